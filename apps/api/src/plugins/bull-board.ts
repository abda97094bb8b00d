import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { Queues } from '@hookrelay/queue';

/**
 * Bull Board for operators, inside the admin scope (the caller adds the auth hook). Nested under
 * a prefix, the board must be told its full public path or its assets 404.
 */
export async function registerBullBoard(admin: FastifyInstance, queues: Queues, publicPath: string): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: [
      new BullMQAdapter(queues.deliveries, { description: 'First attempts: waiting, in flight, or held back by endpoint limits' }),
      new BullMQAdapter(queues.batches, {
        description: 'First attempts of deliveries published together to one endpoint, one job per batch (its data lists the deliveries)',
      }),
      new BullMQAdapter(queues.retries, { description: 'Later attempts, delayed until their backoff is over' }),
      new BullMQAdapter(queues.maintenance, { description: 'Bulk replays and other background work' }),
      new BullMQAdapter(queues.deadLetters, {
        description: 'Deliveries that gave up; the failure reason says why. Retry replays the delivery.',
      }),
    ],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Hookrelay queues' } },
  });
  serverAdapter.setBasePath(publicPath);
  await admin.register(serverAdapter.registerPlugin(), { prefix: '/queues' });
}

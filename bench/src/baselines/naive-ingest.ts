/**
 * Ingest baseline: the hand-rolled service. A Fastify route that inserts the event as a row, then
 * calls queue.add, per request, before answering 202. No auth, no fan-out, no idempotency.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import postgres from 'postgres';

const { databaseUrl, redisUrl, prefix } = JSON.parse(process.argv[2]!) as { databaseUrl: string; redisUrl: string; prefix: string };
const sql = postgres(databaseUrl, { max: 20 });
const queue = new Queue('naive-ingest', { connection: new Redis(redisUrl, { maxRetriesPerRequest: null }), prefix });
const app = Fastify({ logger: false });
app.post('/v1/events', async (request, reply) => {
  const { type, data } = request.body as { type: string; data: unknown };
  const id = randomUUID();
  await sql`insert into naive_events (id, type, data) values (${id}, ${type}, ${sql.json(data as never)})`;
  await queue.add('deliver', { eventId: id }, { removeOnComplete: true });
  return reply.code(202).send({ id });
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send!({ port: (app.server.address() as { port: number }).port });
process.on('SIGTERM', () => void app.close().then(async () => {
  await queue.close();
  await sql.end();
  process.exit(0);
}));

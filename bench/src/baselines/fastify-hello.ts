/** Ingest baseline: Fastify answering 202 to a parsed JSON body, with no I/O at all. */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/v1/events', async (_request, reply) => reply.code(202).send({ accepted: true }));
await app.listen({ port: 0, host: '127.0.0.1' });
process.send!({ port: (app.server.address() as { port: number }).port });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** OpenAPI generated from the routes' TypeBox schemas; the UI and JSON are served at /docs. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'Hookrelay API', version, description: 'Webhook delivery: subscriptions, events, deliveries.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'Tenant API key' },
          adminToken: { type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN' },
        },
      },
      tags: [
        { name: 'subscriptions', description: 'Where and how events are delivered' },
        { name: 'events', description: 'Publishing and reading events' },
        { name: 'deliveries', description: 'One event to one subscription, with every attempt' },
        { name: 'admin', description: 'Operator routes (ADMIN_TOKEN)' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

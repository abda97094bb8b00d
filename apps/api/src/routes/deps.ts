import type { Db } from '@hookrelay/db';
import type { Queues } from '@hookrelay/queue';

export interface RouteDeps {
  db: Db;
  queues: Queues;
}

import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { ApiClient, ApiResponse, Tenant } from '@hookrelay/testing';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A well-formed id that no row has. */
export const unknownId = (): string => randomUUID();

/** Ids that are not UUIDs at all: every `:id` route must answer 404 for them, never 400 or 500. */
export const MALFORMED_IDS = ['not-a-uuid', '123', 'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz', `${randomUUID()}x`];

export function isIsoDate(value: unknown): boolean {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) && new Date(value).toISOString() === value;
}

/** Asserts a 400 whose message names `field`. */
export function expectBadRequest(res: ApiResponse, field: string): void {
  expect(res.status, res.text).toBe(400);
  expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  expect(res.body.message).toContain(field);
}

export function expectNotFound(res: ApiResponse): void {
  expect(res.status, res.text).toBe(404);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
}

export function expectUnauthorized(res: ApiResponse): void {
  expect(res.status, res.text).toBe(401);
  expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
}

/** Follows `nextCursor` from the first page to the last, checking every page's shape on the way. */
export async function walkPages<T = any>(client: ApiClient, path: string, limit: number): Promise<{ items: T[]; pages: T[][] }> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  for (let i = 0; i < 1000; i++) {
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await client.get(url);
    expect(res.status, res.text).toBe(200);
    expect(Array.isArray(res.body.data)).toBe(true);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    pages.push(res.body.data);
    cursor = res.body.nextCursor;
    if (cursor === null) return { items: pages.flat(), pages };
    expect(typeof cursor).toBe('string');
    // A page that promises a next one is full.
    expect(res.body.data.length).toBe(limit);
  }
  throw new Error(`pagination of ${path} did not end`);
}

export interface CreatedSubscription {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  secret: string;
  headers: Record<string, string>;
  retryPolicy: unknown;
  enabled: boolean;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export async function subscribe(tenant: Tenant, body: Record<string, unknown> = {}): Promise<CreatedSubscription> {
  const res = await tenant.client.post('/v1/subscriptions', { url: 'https://hooks.example.com/in', ...body });
  if (res.status !== 201) throw new Error(`subscribing failed: ${res.status} ${res.text}`);
  return res.body;
}

export interface PublishedEvent {
  id: string;
  type: string;
  timestamp: string;
  deliveries: number;
}

export async function publish(tenant: Tenant, type: string, data: unknown = {}, extra: Record<string, unknown> = {}): Promise<PublishedEvent> {
  const res = await tenant.client.post('/v1/events', { type, data, ...extra });
  if (res.status !== 202) throw new Error(`publishing failed: ${res.status} ${res.text}`);
  return res.body;
}

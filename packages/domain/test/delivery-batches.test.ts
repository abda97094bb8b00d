import { describe, expect, it } from 'vitest';
import { assignBatches, type BatchableRef } from '../src/delivery-batches.ts';

const refs = (subs: string[]): BatchableRef[] => subs.map((subscriptionId, i) => ({ id: `d${i}`, subscriptionId }));

describe('assignBatches', () => {
  it('groups deliveries by subscription, each batch named after its first delivery', () => {
    const r = refs(['a', 'b', 'a', 'b', 'a']);
    assignBatches(r);
    expect(r.map((x) => x.batchId)).toEqual(['d0', 'd1', 'd0', 'd1', 'd0']);
  });

  it('leaves a delivery alone for its subscription unbatched', () => {
    const r = refs(['a', 'b', 'a']);
    assignBatches(r);
    expect(r.map((x) => x.batchId)).toEqual(['d0', null, 'd0']);
  });

  it('starts a new batch once one is full, and a lone remainder gets a job of its own', () => {
    const r = refs(['a', 'a', 'a', 'a', 'a']);
    assignBatches(r, 2);
    expect(r.map((x) => x.batchId)).toEqual(['d0', 'd0', 'd2', 'd2', null]);
  });

  it('keeps every batch within the size limit', () => {
    const r = refs(Array.from({ length: 230 }, (_, i) => (i % 3 === 0 ? 'a' : 'b')));
    assignBatches(r, 50);
    const sizes = new Map<string, number>();
    for (const x of r) if (x.batchId) sizes.set(x.batchId, (sizes.get(x.batchId) ?? 0) + 1);
    expect(Math.max(...sizes.values())).toBeLessThanOrEqual(50);
    expect([...sizes.values()].reduce((a, b) => a + b, 0)).toBe(230);
    // A batch never mixes subscriptions.
    for (const x of r) if (x.batchId) expect(r.find((y) => y.id === x.batchId)!.subscriptionId).toBe(x.subscriptionId);
  });
});

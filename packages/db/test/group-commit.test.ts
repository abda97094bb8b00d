import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../src/group-commit.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A writer that records each batch and answers each item doubled, after `delayMs`. */
function recordingWriter(delayMs = 0) {
  const batches: number[][] = [];
  const write = async (items: number[]) => {
    batches.push([...items]);
    if (delayMs > 0) await sleep(delayMs);
    return items.map((i) => i * 2);
  };
  return { batches, write };
}

describe('GroupCommit', () => {
  it('writes items added in the same turn as one batch and answers each caller its own result', async () => {
    const { batches, write } = recordingWriter();
    const gc = new GroupCommit<number, number>(write);
    const results = await Promise.all([1, 2, 3].map((i) => gc.add(i)));
    expect(results).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('accumulates the next batch while one is being written', async () => {
    const { batches, write } = recordingWriter(30);
    const gc = new GroupCommit<number, number>(write);
    const first = gc.add(1);
    await sleep(5); // the first batch is now being written
    const rest = [2, 3, 4].map((i) => gc.add(i));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('with overlapAt, starts a second batch beside one being written only once that many items wait', async () => {
    // A slow first write, so the checks below still fall within it on a busy machine.
    const { batches, write } = recordingWriter(300);
    const gc = new GroupCommit<number, number>(write, { concurrency: 2, overlapAt: 3 });
    const first = gc.add(1);
    await sleep(5); // the first batch is now being written
    const two = [gc.add(2), gc.add(3)];
    await sleep(5);
    expect(batches).toEqual([[1]]); // two waiting: below overlapAt, so they wait for the first write
    const three = [gc.add(4), gc.add(5), gc.add(6)];
    await sleep(5);
    expect(batches).toEqual([[1], [2, 3, 4, 5, 6]]); // five waiting: a second writer starts
    await expect(Promise.all([first, ...two, ...three])).resolves.toEqual([2, 4, 6, 8, 10, 12]);
  });

  it('splits a queue longer than maxBatch', async () => {
    const { batches, write } = recordingWriter();
    const gc = new GroupCommit<number, number>(write, { maxBatch: 2 });
    await Promise.all([1, 2, 3, 4, 5].map((i) => gc.add(i)));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('with lingerMs, holds the first item after a quiet spell so later arrivals share its write', async () => {
    const { batches, write } = recordingWriter();
    const gc = new GroupCommit<number, number>(write, { lingerMs: 40 });
    const first = gc.add(1);
    await sleep(10); // a later turn, still inside the linger
    const second = gc.add(2);
    expect(batches).toEqual([]);
    await Promise.all([first, second]);
    expect(batches).toEqual([[1, 2]]);
  });

  it('without lingerMs, an item added in a later turn is written on its own', async () => {
    const { batches, write } = recordingWriter();
    const gc = new GroupCommit<number, number>(write);
    const first = gc.add(1);
    await sleep(10);
    const second = gc.add(2);
    await Promise.all([first, second]);
    expect(batches).toEqual([[1], [2]]);
  });

  it('rejects every caller of a failed batch and keeps writing later ones', async () => {
    let fail = true;
    const gc = new GroupCommit<number, number>(async (items) => {
      if (fail) throw new Error('boom');
      return items;
    });
    const failed = [gc.add(1), gc.add(2)];
    await expect(Promise.all(failed)).rejects.toThrow('boom');
    await expect(failed[1]).rejects.toThrow('boom');
    fail = false;
    await expect(gc.add(3)).resolves.toBe(3);
  });

  it('retries a retryable failure until it succeeds, telling onRetry each time', async () => {
    let calls = 0;
    const retries: number[] = [];
    const gc = new GroupCommit<number, number>(
      async (items) => {
        if (++calls < 3) throw new Error('unavailable');
        return items;
      },
      { retryable: () => true, retryForMs: 10_000, onRetry: (_err, waitMs) => retries.push(waitMs) },
    );
    await expect(gc.add(7)).resolves.toBe(7);
    expect(calls).toBe(3);
    expect(retries).toEqual([250, 500]);
  });

  it('flushed() resolves only once everything added so far is written', async () => {
    const { batches, write } = recordingWriter(20);
    const gc = new GroupCommit<number, number>(write, { lingerMs: 10 });
    void gc.add(1);
    void gc.add(2);
    await gc.flushed();
    expect(batches.flat()).toEqual([1, 2]);
  });
});

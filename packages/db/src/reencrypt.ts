/** Shared by the repositories' re-encryption passes (`pnpm hookrelay secrets:reencrypt`). */

export interface ReencryptProgress {
  checked: number;
  reencrypted: number;
  failed: { id: string; error: string }[];
}

export interface ReencryptOptions {
  batchSize?: number;
  /** Called after each batch with the totals so far. */
  onProgress?: (progress: ReencryptProgress) => void;
}

/**
 * Walks a table by id in batches and rewrites every row `rewrite` says is stale. The update is
 * conditional on the row being unchanged; a row written meanwhile (a PATCH, a rotation) is read
 * again. A row that cannot be decrypted is reported, and the walk goes on.
 */
export async function reencryptRows<Row extends { id: string }>(
  read: { batch(afterId: string, limit: number): Promise<Row[]>; one(id: string): Promise<Row | undefined> },
  rewrite: (row: Row) => Promise<'current' | 'written' | 'changed'>,
  { batchSize = 200, onProgress }: ReencryptOptions,
): Promise<ReencryptProgress> {
  const progress: ReencryptProgress = { checked: 0, reencrypted: 0, failed: [] };
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await read.batch(after, batchSize);
    if (rows.length === 0) break;
    for (const first of rows) {
      progress.checked++;
      try {
        let row: Row | undefined = first;
        for (let tries = 0; row; tries++) {
          const outcome = await rewrite(row);
          if (outcome === 'written') progress.reencrypted++;
          if (outcome !== 'changed') break;
          if (tries === 5) throw new Error('the row kept changing while it was being re-encrypted; run the command again');
          row = await read.one(row.id);
        }
      } catch (err) {
        progress.failed.push({ id: first.id, error: (err as Error).message });
      }
    }
    after = rows[rows.length - 1]!.id;
    onProgress?.({ ...progress, failed: [...progress.failed] });
  }
  return progress;
}

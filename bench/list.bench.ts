/**
 * Listing: N conversations (logs written directly, then the listing index rebuilt from them),
 * the first page of 50 newest in a fresh store (cold: nothing cached in the process), then
 * paging through all of them 1,000 at a time, sorted by creation and by update.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from '../src/index.js';
import { generateLog } from './generate.js';
import { median, report, smoke } from './machine.js';

const n = smoke ? 500 : Number(process.env.BENCH_N ?? 100_000);
const home = mkdtempSync(join(tmpdir(), 'colloquy-bench-list-'));
try {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) generateLog(home, 5, { name: `conversation ${i}` });
  const writeMs = performance.now() - t0;
  const t1 = performance.now();
  await new FileStore({ home }).reindex();
  const reindexMs = performance.now() - t1;

  const firstPage: number[] = [];
  for (let i = 0; i < 5; i++) {
    const store = new FileStore({ home });
    const t = performance.now();
    const page = await store.list({ limit: 50 });
    firstPage.push(performance.now() - t);
    if (page.items.length !== 50) throw new Error(`first page has ${page.items.length} items`);
    await store.close();
  }
  const pageAll = async (sort: 'created' | 'updated'): Promise<number> => {
    const store = new FileStore({ home });
    const t = performance.now();
    let seen = 0;
    let cursor: string | null = null;
    do {
      const page = await store.list({ limit: 1_000, sort, cursor });
      seen += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    const ms = performance.now() - t;
    if (seen !== n) throw new Error(`paged through ${seen} of ${n}`);
    await store.close();
    return ms;
  };
  const allCreated = await pageAll('created');
  const allUpdated = await pageAll('updated');
  report({
    name: 'list',
    n,
    figures: {
      'first page of 50 (cold store)': { medianMs: +median(firstPage).toFixed(1), minMs: +Math.min(...firstPage).toFixed(1) },
      'every page of 1000, by created': { ms: Math.round(allCreated) },
      'every page of 1000, by updated': { ms: Math.round(allUpdated) },
      'setup: write logs, rebuild index': { writeMs: Math.round(writeMs), reindexMs: Math.round(reindexMs) },
    },
  });
} finally {
  rmSync(home, { recursive: true, force: true });
}

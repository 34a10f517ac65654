/**
 * The console page's files, built by `scripts/build-console.mjs` into `dist/public/`:
 * `index.html`, `console.js`, `console.css`, and Mermaid's browser bundle copied from
 * `node_modules` (`mermaid.min.js`), so the page works offline. The directory is found next
 * to the running code (the package's `dist/`), whether it runs from the command-line bundle,
 * the compiled library or the sources.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from './http.js';

/** The file whose presence marks a built console directory. */
const MARKER = 'console.js';

/** The files the server hands out (by name, nothing else), and their content types. */
export const CONSOLE_FILES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'mermaid.min.js': 'text/javascript; charset=utf-8',
};

/**
 * Headers of the console page: its scripts and styles come from this server only (Mermaid
 * draws with inline styles), it connects only back to this server, and no other site may
 * frame it.
 */
export const CONSOLE_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

function here(): string | null {
  try {
    return dirname(fileURLToPath(import.meta.url));
  } catch {
    return null;
  }
}

/**
 * The directory of the built console: searched upwards from `start` (default: this module)
 * for `public/` or `dist/public/` holding `console.js`. Null when it was not built.
 */
export function findAssets(start: string | null = here()): string | null {
  if (start === null) return null;
  let dir = resolve(start);
  for (let i = 0; i < 6; i++) {
    for (const candidate of [join(dir, 'public'), join(dir, 'dist', 'public')]) {
      if (existsSync(join(candidate, MARKER))) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

const cache = new Map<string, Buffer>();

/**
 * Reply with console file `name` from `dir` (read once, then served from memory).
 * @throws {HttpError} 404 for a name that is not one of `CONSOLE_FILES`, or a file missing from `dir`.
 */
export async function sendAsset(res: ServerResponse, dir: string, name: string, headers: Readonly<Record<string, string>> = {}): Promise<void> {
  const type = Object.hasOwn(CONSOLE_FILES, name) ? CONSOLE_FILES[name] : undefined;
  if (type === undefined) throw new HttpError(404, 'not_found', `no console file ${JSON.stringify(name)}`);
  const path = join(dir, name);
  let body = cache.get(path);
  if (!body) {
    try {
      body = await readFile(path);
    } catch {
      throw new HttpError(404, 'not_found', `the console file ${name} is missing from ${dir}: run \`npm run build\``);
    }
    cache.set(path, body);
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': String(body.length),
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-cache',
    ...headers,
  });
  res.end(body);
}

// Builds the console page served by `colloquy serve` into dist/public/: the page's TypeScript
// bundled for browsers (console.js), its HTML and CSS, and Mermaid's own browser bundle copied
// from node_modules (mermaid.min.js), so the page needs no network.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'public');
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(root, 'src', 'console', 'main.ts')],
  outfile: join(out, 'console.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
});
await copyFile(join(root, 'src', 'console', 'index.html'), join(out, 'index.html'));
await copyFile(join(root, 'src', 'console', 'console.css'), join(out, 'console.css'));
await copyFile(join(root, 'node_modules', 'mermaid', 'dist', 'mermaid.min.js'), join(out, 'mermaid.min.js'));

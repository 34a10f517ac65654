// Regenerates the statechart diagrams in docs/ from the machine definitions (run `npm run
// build` first). Each diagram sits between `<!-- diagram:<machine> -->` and
// `<!-- /diagram -->`; test/docs checks that the committed docs match.
import { readFile, writeFile } from 'node:fs/promises';
import { diagramBlocks } from './diagram-blocks.mjs';

for (const file of ['docs/architecture.md']) {
  const text = await readFile(file, 'utf8');
  const next = await diagramBlocks(text);
  if (next !== text) {
    await writeFile(file, next);
    console.log(`updated ${file}`);
  }
}

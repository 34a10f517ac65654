// Regenerates the diagrams in docs/ from the code (run `npm run build` first): the statecharts
// from the machine definitions (between `<!-- diagram:<machine> -->` and `<!-- /diagram -->`)
// and the rooms from the imports (between `<!-- rooms -->` and `<!-- /rooms -->`); test/docs
// checks that the committed docs match.
import { readFile, writeFile } from 'node:fs/promises';
import { diagramBlocks } from './diagram-blocks.mjs';
import { roomsBlock } from './rooms-diagram.mjs';

for (const file of ['docs/architecture.md']) {
  const text = await readFile(file, 'utf8');
  const next = await roomsBlock(await diagramBlocks(text));
  if (next !== text) {
    await writeFile(file, next);
    console.log(`updated ${file}`);
  }
}

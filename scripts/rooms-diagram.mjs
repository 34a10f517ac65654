// The rooms of the code and the imports between them, as a Mermaid flowchart, read from the
// code with dependency-cruiser (the same configuration as test/architecture): each folder of
// src/ (and machines/) is one room; the shared leaves (src/errors.ts, src/version.ts) and the
// package's entry points are left out. `docs/architecture.md` shows it between
// `<!-- rooms -->` and `<!-- /rooms -->`; test/docs checks that it is current.
import { fileURLToPath } from 'node:url';
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';

const root = fileURLToPath(new URL('..', import.meta.url));
const ROOM = /^(machines|src\/[^/]+)\//;

/** The room of a module path (`src/runtime`, `machines`), or null for what is not in one. */
function roomOf(path) {
  return ROOM.exec(path)?.[1] ?? null;
}

/** The Mermaid text of the rooms and their imports, rooms sorted, edges sorted. */
export async function roomsDiagram() {
  const options = await extractDepcruiseOptions(`${root}/.dependency-cruiser.mjs`);
  const result = await cruise(['src', 'machines'], { ...options, baseDir: root, validate: false });
  const output = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;
  const rooms = new Set();
  const edges = new Set();
  for (const module of output.modules) {
    const from = roomOf(module.source);
    if (from === null) continue;
    rooms.add(from);
    for (const dependency of module.dependencies) {
      const to = roomOf(dependency.resolved);
      if (to !== null && to !== from) edges.add(`${from}|${to}`);
    }
  }
  const id = (room) => room.replace(/[^a-z]/g, '_');
  const lines = ['flowchart TD'];
  for (const room of [...rooms].sort()) lines.push(`  ${id(room)}["${room}/"]`);
  for (const edge of [...edges].sort()) {
    const [from, to] = edge.split('|');
    lines.push(`  ${id(from)} --> ${id(to)}`);
  }
  return lines.join('\n');
}

/** Fill the `<!-- rooms -->…<!-- /rooms -->` block of a Markdown text. */
export async function roomsBlock(text) {
  if (!text.includes('<!-- rooms -->')) return text;
  const diagram = await roomsDiagram();
  return text.replace(/<!-- rooms -->[\s\S]*?<!-- \/rooms -->/, `<!-- rooms -->\n\`\`\`mermaid\n${diagram}\n\`\`\`\n<!-- /rooms -->`);
}

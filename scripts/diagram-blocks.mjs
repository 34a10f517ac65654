// Fills every `<!-- diagram:<machine> -->…<!-- /diagram -->` block of a Markdown text with
// the machine's Mermaid diagram, generated from its definition (from the built package).
import { conversationMachine, persistenceMachine, supervisorMachine, toMermaid, turnMachine } from '../dist/src/index.js';

const machines = {
  conversation: conversationMachine,
  turn: turnMachine,
  supervisor: supervisorMachine,
  persistence: persistenceMachine,
};

export async function diagramBlocks(text) {
  return text.replace(/<!-- diagram:(\w+) -->[\s\S]*?<!-- \/diagram -->/g, (_, name) => {
    const machine = machines[name];
    if (!machine) throw new Error(`no machine named ${name}`);
    return `<!-- diagram:${name} -->\n\`\`\`mermaid\n${toMermaid(machine)}\n\`\`\`\n<!-- /diagram -->`;
  });
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conversationMachine, persistenceMachine, supervisorMachine, toMermaid, turnMachine } from '../../src/index.js';
import { roomsDiagram } from '../../scripts/rooms-diagram.mjs';

const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');

describe('docs/architecture.md', () => {
  it('shows the rooms of the code and the imports between them, as read from the code', async () => {
    const block = /<!-- rooms -->\n```mermaid\n([\s\S]*?)\n```\n<!-- \/rooms -->/.exec(doc);
    expect(block, 'run: npm run build && node scripts/update-docs.mjs').not.toBeNull();
    expect(block?.[1]).toBe(await roomsDiagram());
  });

  for (const [name, machine] of Object.entries({
    conversation: conversationMachine,
    turn: turnMachine,
    supervisor: supervisorMachine,
    persistence: persistenceMachine,
  })) {
    it(`shows the ${name} statechart as generated from its definition`, () => {
      const block = new RegExp(`<!-- diagram:${name} -->\\n\`\`\`mermaid\\n([\\s\\S]*?)\\n\`\`\`\\n<!-- /diagram -->`).exec(doc);
      expect(block, `run: npm run build && node scripts/update-docs.mjs`).not.toBeNull();
      expect(block?.[1]).toBe(toMermaid(machine));
    });
  }

  it('draws every state-changing transition of the conversation', () => {
    const diagram = toMermaid(conversationMachine);
    for (const edge of ['conversation_idle --> conversation_active : user_input [notReject]', 'conversation_processing_committing --> conversation_settling : always [endDurable]']) {
      expect(diagram).toContain(edge);
    }
  });
});

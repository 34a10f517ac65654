import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as zm from 'zod/mini';
import { isKnownSafeCommand, splitCommandLine } from '../../src/agents/tools/safe-commands.js';
import { defineTool, needsApproval } from '../../src/agents/tools/tool.js';
import { shellTool } from '../../src/agents/tools/shell-tool.js';
import { toolRegistry } from '../../src/agents/tools/call.js';

describe('known-safe commands', () => {
  it.each([
    'ls',
    'ls -la src',
    'cat README.md | head -5',
    "grep -rn 'a$b' src",
    'git status && git diff HEAD~1',
    'find . -name "*.ts"',
    'rg TODO src',
    'sed -n 1,20p file.txt',
    'pwd; wc -l a b',
  ])('%s is safe', (command) => expect(isKnownSafeCommand(command)).toBe(true));

  it.each([
    'rm -rf build',
    'ls > out.txt',
    'cat $(which sh)',
    'echo `id`',
    'find . -delete',
    'find . -exec rm {} ;',
    'rg --pre sh x',
    'git push',
    'git commit -m x',
    'sed -i s/a/b/ f',
    'ls & rm x',
    'ls && rm x',
    "echo 'unterminated",
    '',
    'ls |',
    'python -c 1',
    'echo "$HOME"',
  ])('%s is not safe', (command) => expect(isKnownSafeCommand(command)).toBe(false));

  it('splits a command line into words, honouring quotes', () => {
    expect(splitCommandLine(`grep "two words" 'x y' | wc -l`)).toEqual([
      ['grep', 'two words', 'x y'],
      ['wc', '-l'],
    ]);
    expect(splitCommandLine('a > b')).toBeNull();
  });
});

describe('tools', () => {
  const shell = shellTool();
  const read = defineTool({ name: 'read_file', description: 'read', parameters: z.object({ path: z.string() }), readOnly: true, execute: () => '' });
  const write = defineTool({ name: 'write_file', description: 'write', parameters: zm.object({ path: zm.string() }), execute: () => '' });
  const maybe = defineTool({
    name: 'maybe',
    description: 'asks for big ones',
    parameters: z.object({ n: z.number() }),
    needsApproval: ({ n }) => n > 10,
    execute: () => '',
  });

  it('ask by policy: never never, on-request when a call changes something, untrusted unless harmless, on-failure not first', () => {
    const cases: [string, boolean][] = [
      ['never', false],
      ['on-failure', false],
    ];
    for (const [policy, expected] of cases) {
      expect(needsApproval(shell, { command: 'rm x' }, policy as never)).toBe(expected);
      expect(needsApproval(write, { path: 'x' }, policy as never)).toBe(expected);
    }
    expect(needsApproval(shell, { command: 'ls' }, 'on-request')).toBe(true);
    expect(needsApproval(read, { path: 'x' }, 'on-request')).toBe(false);
    expect(needsApproval(write, { path: 'x' }, 'on-request')).toBe(true);
    expect(needsApproval(maybe, { n: 1 }, 'on-request')).toBe(false);
    expect(needsApproval(maybe, { n: 11 }, 'on-request')).toBe(true);
    expect(needsApproval(shell, { command: 'ls' }, 'untrusted')).toBe(false);
    expect(needsApproval(shell, { command: 'rm x' }, 'untrusted')).toBe(true);
    expect(needsApproval(read, { path: 'x' }, 'untrusted')).toBe(false);
    expect(needsApproval(write, { path: 'x' }, 'untrusted')).toBe(true);
  });

  it('give models a JSON Schema of their arguments, from zod or zod/mini', () => {
    expect(write.parameters).toEqual({ type: 'object', properties: { path: { type: 'string' } }, required: ['path'], additionalProperties: false });
    expect(read.parameters).toMatchObject({ type: 'object', required: ['path'] });
    expect(shell.parameters).toMatchObject({ properties: { command: { type: 'string', minLength: 1 }, timeout_ms: { type: 'integer', minimum: 1 } } });
    expect(JSON.stringify(shell.parameters)).not.toContain('9007199254740991');
  });

  it('parse arguments with an error naming the field', () => {
    expect(() => write.parse({ path: 3 })).toThrow(/invalid arguments for write_file: path: /);
    expect(() => shell.parse({ command: '' })).toThrow(/command/);
    expect(shell.parse({ command: 'ls' })).toEqual({ command: 'ls' });
  });

  it('refuse names models do not accept, and duplicate names', () => {
    expect(() => defineTool({ name: 'has space', description: '', parameters: z.object({}), execute: () => '' })).toThrow(TypeError);
    expect(() => toolRegistry([read as never, read as never])).toThrow(/two tools are named "read_file"/);
  });
});

import { describe, expect, it } from 'vitest';
import { elideMiddle, runCommand } from '../../src/agents/shell.js';

describe('runCommand', () => {
  it('runs a command in its directory, stdout and stderr together', async () => {
    const r = await runCommand('pwd; echo oops >&2; exit 3', { cwd: '/tmp', signal: new AbortController().signal });
    expect(r.exitCode).toBe(3);
    expect(r.output).toContain('/tmp');
    expect(r.output).toContain('oops');
  });

  it('stops the whole command when aborted, not just its shell', async () => {
    const controller = new AbortController();
    const t0 = Date.now();
    const result = runCommand('sleep 5; echo finished', { cwd: '/tmp', signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const r = await result;
    expect(r.exitCode).toBe(130);
    expect(r.output).not.toContain('finished');
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it('times out', async () => {
    const r = await runCommand('sleep 5', { cwd: '/tmp', signal: new AbortController().signal, timeoutMs: 200 });
    expect(r.exitCode).toBe(124);
    expect(r.output).toContain('timed out after 200 ms');
  });

  it('keeps both ends of long output', async () => {
    const r = await runCommand('seq 1 100000', { cwd: '/tmp', signal: new AbortController().signal, maxOutputBytes: 1_000 });
    expect(r.output.startsWith('1\n2\n')).toBe(true);
    expect(r.output.endsWith('99999\n100000\n')).toBe(true);
    expect(r.output).toMatch(/… \d+ bytes elided …/);
  });

  it('reports a command that cannot start', async () => {
    const r = await runCommand('true', { cwd: '/no/such/dir', signal: new AbortController().signal });
    expect(r.exitCode).toBe(127);
  });

  it('elides the middle only past the limit', () => {
    expect(elideMiddle('short', 10)).toBe('short');
    expect(elideMiddle('a'.repeat(30), 10)).toBe(`aaaaa\n… 20 bytes elided …\naaaaa`);
  });
});

/**
 * Inspection from the command line: `colloquy inspect` runs a relay that outlives the
 * processes it shows; `colloquy exec --inspect-url` streams into it, `--inspect` starts a
 * relay of its own. The JSONL stream on stdout is untouched either way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { jsonLines, removeTempDirs, runCli, startCli, tempDir, threadIdOf } from '../cli/helpers.js';

afterEach(removeTempDirs);

describe('colloquy inspect', () => {
  it('relays what `exec --inspect-url` sends to a UI client, content hidden', async () => {
    const home = await tempDir('colloquy-home-');
    const relay = startCli(['inspect', '--port', '0', '--json'], { home });
    try {
      await relay.waitForStdout('\n');
      const { url, wsUrl } = JSON.parse(relay.stdout().split('\n')[0] as string) as { url: string; wsUrl: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      expect((await (await fetch(url)).text())).toContain(wsUrl);
      const ui = new WebSocket(wsUrl);
      const raw: string[] = [];
      ui.on('message', (d) => raw.push(d.toString()));
      await new Promise((r) => ui.once('open', r));

      const r = await runCli(['exec', '--json', '--inspect-url', wsUrl, 'a confidential prompt'], { home });
      expect(r.code, r.stderr).toBe(0);
      const id = threadIdOf(r.stdout);
      expect(jsonLines(r.stdout).map((e) => e.type)).toEqual(['thread.started', 'turn.started', 'item.completed', 'turn.completed']);
      expect(r.stderr).toContain(`inspect: streaming to ${wsUrl}`);

      const deadline = Date.now() + 10_000;
      const types = (): string[] => raw.map((s) => (JSON.parse(s) as { type: string }).type);
      while (!raw.some((s) => s.includes(`"conversation:${id}"`)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      expect(raw.some((s) => s.includes(`"conversation:${id}"`))).toBe(true);
      expect(types()).toEqual(expect.arrayContaining(['@xstate.actor', '@xstate.event', '@xstate.snapshot']));
      expect(raw.join('\n')).not.toContain('confidential');
      ui.close();
    } finally {
      relay.child.kill('SIGTERM');
      expect((await relay.done).code).toBe(0);
    }
  });

  it('exec --inspect starts a relay of its own and says where, on stderr', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['exec', '--json', '--inspect', 'hello'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/inspect: open http:\/\/127\.0\.0\.1:\d+\/ \(Stately inspector; relay ws:\/\/127\.0\.0\.1:\d+, 127\.0\.0\.1 only, content hidden\)/);
    expect(jsonLines(r.stdout)[0]?.type).toBe('thread.started');
  });

  it('refuses a relay URL that is not on this machine (exit 2)', async () => {
    const home = await tempDir('colloquy-home-');
    const r = await runCli(['exec', '--inspect-url', 'ws://example.com:8080', 'hello'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/must be ws:\/\/ on this machine/);
  });
});

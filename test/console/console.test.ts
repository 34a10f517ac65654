/**
 * The console page in headless Chromium, against a real runtime and its control server:
 * logging in with the printed address, starting a conversation, following its statechart
 * through a turn, approving and denying `!command`s, interrupting a slow one. Screenshots go
 * to test-artifacts/console/.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, localAgent, MemoryStore, type Runtime } from '../../src/index.js';
import { serve, type ControlServer } from '../../src/server/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHOTS = join(process.cwd(), 'test-artifacts', 'console');
/** How long a step may take before the test gives up (a bound, not a measurement). */
const STEP = 15_000;

let runtime: Runtime;
let server: ControlServer;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let cwd: string;

beforeAll(async () => {
  // The page is built from the sources under test.
  execFileSync(process.execPath, ['scripts/build-console.mjs'], { stdio: 'inherit' });
  mkdirSync(SHOTS, { recursive: true });
  cwd = mkdtempSync(join(tmpdir(), 'colloquy-console-cwd-'));
  runtime = createRuntime({ store: new MemoryStore(), agent: localAgent(), defaults: { cwd, approvalPolicy: 'on-request' } });
  server = await serve(runtime);
  userDataDir = mkdtempSync(join(tmpdir(), 'colloquy-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1400, height: 1100 },
  });
  page = context.pages()[0] ?? (await context.newPage());
}, 60_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  await runtime?.shutdown();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  if (cwd) rmSync(cwd, { recursive: true, force: true });
}, 30_000);

/** The public state the statechart shows. */
function chartState(p: Page): Promise<string | null> {
  return p.locator('#statechart').getAttribute('data-state');
}

/** Wait until the statechart shows `state`. */
async function untilState(p: Page, state: string): Promise<void> {
  await p.locator(`#statechart[data-state="${state}"]`).waitFor({ timeout: STEP });
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function send(p: Page, text: string, mode: 'queue' | 'steer' | 'interrupt' = 'queue'): Promise<void> {
  await p.locator('#input').fill(text);
  await p.locator('#mode').selectOption(mode);
  await p.locator('#send').click();
}

describe('console page', () => {
  it('refuses a visit without the token, and logs in with the printed address', async () => {
    const refused = await fetch(server.url);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('console.js');

    const response = await page.goto(server.consoleUrl);
    expect(response?.status()).toBe(200);
    // The token does not stay in the address bar.
    expect(page.url()).not.toContain('token=');
    await page.locator('#connection[data-status="up"]').waitFor({ timeout: STEP });
    await expect(page.locator('#list-empty').isVisible()).resolves.toBe(true);
  }, 60_000);

  it('starts a conversation and follows its statechart to processing and back to idle, approving a command', async () => {
    await page.locator('#new-name').fill('console demo');
    await page.locator('#new-conversation').click();
    // The statechart is drawn from the machine definition and shows the new conversation idle.
    await page.locator('#statechart svg').waitFor({ timeout: STEP });
    await untilState(page, 'idle');
    await expect(page.locator('#statechart g.colloquy-active').count()).resolves.toBe(1);
    await expect(page.locator('#conversation-name').textContent()).resolves.toBe('console demo');
    const id = (await page.locator('#conversation-id').textContent()) ?? '';
    expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    await page.locator(`#conversations tr[data-id="${id}"]`).waitFor({ timeout: STEP });

    // A `!command` asks for approval (policy on-request): the turn waits in processing.
    await send(page, '!echo hello-console');
    const approval = page.locator('#approvals .approval');
    await approval.waitFor({ timeout: STEP });
    await untilState(page, 'processing');
    await expect(page.locator('#statechart').getAttribute('data-active')).resolves.toBe('conversation.processing,conversation.processing.awaitingApproval');
    // The awaiting-approval node and its parent are highlighted in the drawing.
    await expect(page.locator('#statechart g.colloquy-active').count()).resolves.toBe(2);
    await expect(approval.locator('.what').textContent()).resolves.toContain('echo hello-console');
    // The list shows the pending approval.
    await page.locator(`#conversations tr[data-id="${id}"][data-state="processing"] .approvals .count`).waitFor({ timeout: STEP });
    await shot(page, 'approval-pending');

    await approval.locator('button.approve').click();
    await untilState(page, 'idle');
    await page.locator('#transcript .item.agent_message', { hasText: 'It printed: "hello-console"' }).waitFor({ timeout: STEP });
    await expect(page.locator('#transcript .item.command pre').last().textContent()).resolves.toContain('hello-console');
    await expect(page.locator('#approvals .approval').count()).resolves.toBe(0);
    // The statechart went through processing and came back to idle.
    const trail = ((await page.locator('#statechart').getAttribute('data-trail')) ?? '').split(',');
    expect(trail[0]).toBe('idle');
    expect(trail).toContain('processing');
    expect(trail.indexOf('processing')).toBeLessThan(trail.lastIndexOf('idle'));
    expect(trail.at(-1)).toBe('idle');
    // The event log has the turn in order.
    const types = await page.locator('#event-log li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-type')));
    const order = ['turn.started', 'approval.requested', 'approval.resolved', 'turn.completed'].map((t) => types.indexOf(t));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    await page.locator(`#conversations tr[data-id="${id}"][data-state="idle"]`).waitFor({ timeout: STEP });
    await shot(page, 'turn-completed');
  }, 60_000);

  it('denies a command: it is reported declined and not run', async () => {
    await send(page, '!echo must-not-run > ran.txt');
    const approval = page.locator('#approvals .approval');
    await approval.waitFor({ timeout: STEP });
    await approval.locator('button.deny').click();
    await page.locator('#transcript .item.agent_message', { hasText: 'it was declined' }).waitFor({ timeout: STEP });
    await untilState(page, 'idle');
    await expect(page.locator('#transcript .item.command.status-declined').count()).resolves.toBeGreaterThan(0);
  }, 60_000);

  it('interrupts a slow turn', async () => {
    await send(page, '!sleep 30');
    const approval = page.locator('#approvals .approval');
    await approval.waitFor({ timeout: STEP });
    await approval.locator('button.approve').click();
    // The command runs: no approval pending any more, the turn still processing.
    await page.locator('#event-log li[data-type="approval.resolved"]').nth(2).waitFor({ timeout: STEP });
    await expect(page.locator('#approvals .approval').count()).resolves.toBe(0);
    expect(await chartState(page)).toBe('processing');
    await expect(page.locator('#interrupt').isEnabled()).resolves.toBe(true);
    await shot(page, 'slow-turn');

    await page.locator('#interrupt').click();
    await page.locator('#event-log li[data-type="turn.aborted"]').waitFor({ timeout: STEP });
    await untilState(page, 'idle');
    await expect(page.locator('#transcript .turn-mark.aborted').last().textContent()).resolves.toContain('interrupted');
    await expect(page.locator('#interrupt').isEnabled()).resolves.toBe(false);
    await shot(page, 'interrupted');
  }, 60_000);

  it('steers input into a running turn', async () => {
    // A command waiting for approval keeps the turn running; the steered input joins it.
    await send(page, '!echo steered-turn');
    const approval = page.locator('#approvals .approval');
    await approval.waitFor({ timeout: STEP });
    await send(page, 'and one more thing', 'steer');
    await page.locator('#event-log li[data-type="input.queued"]', { hasText: 'steer' }).waitFor({ timeout: STEP });
    await approval.locator('button.approve').click();
    await page.locator('#transcript .item.agent_message', { hasText: 'You added: "and one more thing"' }).waitFor({ timeout: STEP });
    await untilState(page, 'idle');
  }, 60_000);

  it('shows a conversation started elsewhere, and its history, when it is chosen from the list', async () => {
    const other = await runtime.start({ name: 'started by code' });
    await other.run('hello from code');
    const row = page.locator(`#conversations tr[data-id="${other.id}"]`);
    await row.waitFor({ timeout: STEP });
    await row.click();
    await page.locator('#transcript .item.agent_message', { hasText: 'You said: "hello from code"' }).waitFor({ timeout: STEP });
    await untilState(page, 'idle');
    await expect(page.locator('#conversation-name').textContent()).resolves.toBe('started by code');
    await shot(page, 'list');
  }, 60_000);
});

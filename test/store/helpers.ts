/**
 * Shared helpers of the store tests: record builders that pass `LogRecordSchema`, temporary
 * store homes, and a file system that records every call and can inject faults.
 */
import fs from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { newConversationId } from '../../src/protocol/ids.js';
import { LogRecordSchema, type LogRecord, type Metadata } from '../../src/protocol/records.js';
import { nodeFileSystem, type FileSystem } from '../../src/store/fs.js';
import type { CommitOutcome } from '../../src/store/store.js';

// ——— records ———

const TS = '2024-05-01T12:00:00.000Z';

export interface MetaOptions {
  readonly seq?: number;
  readonly name?: string;
  readonly metadata?: Metadata;
  readonly createdAt?: string;
}

/** A `session_meta` record (seq 0 unless told). */
export function metaRecord(id: string, options: MetaOptions = {}): LogRecord {
  return {
    ts: TS,
    seq: options.seq ?? 0,
    type: 'session_meta',
    payload: {
      format: 1,
      id,
      created_at: options.createdAt ?? TS,
      config: { model: 'local', cwd: '/tmp', approvalPolicy: 'on-request' },
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    },
  };
}

/** A `turn.started` event record. */
export function eventRecord(seq: number, turnId = `turn_${seq}`): LogRecord {
  return { ts: TS, seq, type: 'event', payload: { type: 'turn.started', turn_id: turnId, kind: 'regular' } };
}

/** An `agent_message` item record. */
export function itemRecord(seq: number, text = `message ${seq}`): LogRecord {
  return { ts: TS, seq, type: 'item', payload: { turn_id: 'turn_1', item: { id: `item_${seq}`, type: 'agent_message', text } } };
}

/** A `thread.name_updated` event record. */
export function renameRecord(seq: number, name: string): LogRecord {
  return { ts: TS, seq, type: 'event', payload: { type: 'thread.name_updated', name } };
}

/** Records `from`..`to` (inclusive) after a log's header: events and items alternating. */
export function bodyRecords(from: number, to: number): LogRecord[] {
  const out: LogRecord[] = [];
  for (let seq = from; seq <= to; seq++) out.push(seq % 2 === 1 ? eventRecord(seq) : itemRecord(seq));
  return out;
}

/** A whole log of `count` records: `session_meta` then `count - 1` body records. */
export function logRecords(id: string, count: number, meta: MetaOptions = {}): LogRecord[] {
  return [metaRecord(id, meta), ...bodyRecords(1, count - 1)];
}

/** The JSONL text of records, one line each, as the file store writes them. */
export function jsonl(records: readonly LogRecord[]): string {
  return records.map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** Check that every record passes the schema (guards the builders themselves). */
export function assertValid(records: readonly LogRecord[]): void {
  for (const r of records) LogRecordSchema.parse(r);
}

/** `count` fresh conversation ids, in creation order. */
export function newIds(count: number): string[] {
  return Array.from({ length: count }, () => newConversationId());
}

/** Collect an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** Narrow an outcome to a failure (fails the test otherwise). */
export function failure(outcome: CommitOutcome | undefined): Extract<CommitOutcome, { ok: false }> {
  if (!outcome || outcome.ok) throw new Error(`expected a failed outcome, got ${JSON.stringify(outcome)}`);
  return outcome;
}

// ——— temporary homes ———

const homes: string[] = [];

afterEach(() => {
  for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'colloquy-store-'));
  homes.push(dir);
  return dir;
}

/** An error as `node:fs` reports it, with an errno `code`. */
export function errnoError(code: string, message = `${code}: simulated failure`): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

// ——— fault injection ———

export type FsOp = keyof FileSystem;

/** One call made through a `FaultyFileSystem`. `path` is the file's path, also for calls on a descriptor. */
export interface FsCall {
  readonly op: FsOp;
  readonly path: string | undefined;
  readonly args: readonly unknown[];
}

interface Fault {
  readonly op: FsOp;
  readonly matches: (path: string) => boolean;
  readonly error: Error;
  /** For `writeAll`: write the first half of the data before failing (a short write). */
  readonly partial: boolean;
  remaining: number;
}

export interface FaultOptions {
  /** How many calls fail (default: every one until `clear`). */
  readonly times?: number;
  /** For `writeAll`: write half of the data, then fail. */
  readonly partial?: boolean;
}

/**
 * `nodeFileSystem`, recording every call and failing the ones that match an injected fault.
 * Calls on descriptors (`writeAll`, `fdatasync`…) are matched by the path the descriptor was
 * opened with.
 */
export class FaultyFileSystem implements FileSystem {
  readonly calls: FsCall[] = [];
  readonly #paths = new Map<number, string>();
  #faults: Fault[] = [];

  constructor(readonly inner: FileSystem = nodeFileSystem) {}

  /**
   * Fail `op` on paths for which `where` holds (a substring or a predicate) with `error`.
   */
  inject(op: FsOp, where: string | ((path: string) => boolean), error: Error, options: FaultOptions = {}): void {
    const matches = typeof where === 'string' ? (path: string) => path.includes(where) : where;
    this.#faults.push({ op, matches, error, partial: options.partial ?? false, remaining: options.times ?? Infinity });
  }

  /** Remove every fault. */
  clear(): void {
    this.#faults = [];
  }

  /** The calls of `op`, optionally only those on a path containing `where`. */
  callsOf(op: FsOp, where?: string): FsCall[] {
    return this.calls.filter((c) => c.op === op && (where === undefined || (c.path ?? '').includes(where)));
  }

  /** Whether any call mentioned `text` in its path or arguments. */
  touched(text: string): boolean {
    return this.calls.some((c) => (c.path ?? '').includes(text) || c.args.some((a) => typeof a === 'string' && a.includes(text)));
  }

  async #call<T>(
    op: FsOp,
    path: string | undefined,
    args: readonly unknown[],
    run: () => Promise<T>,
    partly?: () => Promise<unknown>,
  ): Promise<T> {
    this.calls.push({ op, path, args });
    const fault = this.#faults.find((f) => f.op === op && f.remaining > 0 && path !== undefined && f.matches(path));
    if (fault) {
      fault.remaining--;
      if (fault.partial && partly) await partly();
      throw fault.error;
    }
    return run();
  }

  async open(path: string, flags: number, mode?: number): Promise<number> {
    const fd = await this.#call('open', path, [path, flags, mode], () => this.inner.open(path, flags, mode));
    this.#paths.set(fd, path);
    return fd;
  }

  async close(fd: number): Promise<void> {
    const path = this.#paths.get(fd);
    await this.#call('close', path, [fd], () => this.inner.close(fd));
    this.#paths.delete(fd);
  }

  writeAll(fd: number, data: Uint8Array): Promise<void> {
    return this.#call(
      'writeAll',
      this.#paths.get(fd),
      [fd, data],
      () => this.inner.writeAll(fd, data),
      () => this.inner.writeAll(fd, data.subarray(0, Math.ceil(data.length / 2))),
    );
  }

  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.#call('read', this.#paths.get(fd), [fd, offset, length, position], () =>
      this.inner.read(fd, buffer, offset, length, position),
    );
  }

  fdatasync(fd: number): Promise<void> {
    return this.#call('fdatasync', this.#paths.get(fd), [fd], () => this.inner.fdatasync(fd));
  }

  fsync(fd: number): Promise<void> {
    return this.#call('fsync', this.#paths.get(fd), [fd], () => this.inner.fsync(fd));
  }

  ftruncate(fd: number, length: number): Promise<void> {
    return this.#call('ftruncate', this.#paths.get(fd), [fd, length], () => this.inner.ftruncate(fd, length));
  }

  fstatSize(fd: number): Promise<number> {
    return this.#call('fstatSize', this.#paths.get(fd), [fd], () => this.inner.fstatSize(fd));
  }

  fstatMode(fd: number): Promise<number> {
    return this.#call('fstatMode', this.#paths.get(fd), [fd], () => this.inner.fstatMode(fd));
  }

  fchmod(fd: number, mode: number): Promise<void> {
    return this.#call('fchmod', this.#paths.get(fd), [fd, mode], () => this.inner.fchmod(fd, mode));
  }

  fstatOwner(fd: number): Promise<number> {
    return this.#call('fstatOwner', this.#paths.get(fd), [fd], () => this.inner.fstatOwner(fd));
  }

  syncDir(path: string): Promise<void> {
    return this.#call('syncDir', path, [path], () => this.inner.syncDir(path));
  }

  mkdirp(path: string, mode: number): Promise<string[]> {
    return this.#call('mkdirp', path, [path, mode], () => this.inner.mkdirp(path, mode));
  }

  readdir(path: string): Promise<string[]> {
    return this.#call('readdir', path, [path], () => this.inner.readdir(path));
  }

  stat(path: string): Promise<{ size: number; mtimeMs: number } | null> {
    return this.#call('stat', path, [path], () => this.inner.stat(path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.#call('rename', from, [from, to], () => this.inner.rename(from, to));
  }

  unlink(path: string): Promise<void> {
    return this.#call('unlink', path, [path], () => this.inner.unlink(path));
  }

  exists(path: string): Promise<boolean> {
    return this.#call('exists', path, [path], () => this.inner.exists(path));
  }

  readText(path: string): Promise<string> {
    return this.#call('readText', path, [path], () => this.inner.readText(path));
  }

  writeFileAtomic(path: string, text: string, mode: number, durable?: boolean): Promise<void> {
    return this.#call('writeFileAtomic', path, [path, mode], () => this.inner.writeFileAtomic(path, text, mode, durable));
  }

  fstatIno(fd: number): Promise<number> {
    return this.#call('fstatIno', this.#paths.get(fd), [fd], () => this.inner.fstatIno(fd));
  }

  statIno(path: string): Promise<number> {
    return this.#call('statIno', path, [path], () => this.inner.statIno(path));
  }

  touch(path: string): Promise<void> {
    return this.#call('touch', path, [path], () => this.inner.touch(path));
  }
}

/** File-mode bits of a path (`0o600`…). */
export function modeOf(path: string): number {
  return fs.statSync(path).mode & 0o777;
}

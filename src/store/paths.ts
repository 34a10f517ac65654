/**
 * The file store's layout (SPEC §5):
 *
 *   <home>/sessions/YYYY/MM/DD/<id>.jsonl   active conversations
 *   <home>/archived/YYYY/MM/DD/<id>.jsonl   archived conversations
 *   <log>.torn                              bytes cut from a torn last line
 *   <home>/sessions/.creating/<id>.jsonl    a new log until its header is durable
 *   <home>/leases/<id>.lease                write leases (see `lease.ts`)
 *
 * The date is the UTC creation date encoded in the id (a ULID), so a log's path follows
 * from its id without scanning. Ids are validated before any path is built.
 */
import { join } from 'node:path';
import { assertConversationId, idTime } from '../protocol/ids.js';

/** Directory mode: owner only. */
export const DIR_MODE = 0o700;
/** File mode: owner read/write only. */
export const FILE_MODE = 0o600;

/** The directory of active conversations' logs under the home. */
export const SESSIONS_DIR = 'sessions';
/** The directory of archived conversations' logs under the home. */
export const ARCHIVED_DIR = 'archived';
/** The directory of write leases under the home. */
export const LEASES_DIR = 'leases';
/**
 * The directory under `sessions/` where a new log is written until its header is durable, then
 * renamed into its day's directory: a crash while a conversation is created leaves its log
 * here (removed when the store next opens), never a log without a header among the others.
 */
export const CREATING_DIR = '.creating';

/** The `YYYY/MM/DD` parts of a conversation's creation date (UTC). */
export function dayParts(id: string): [string, string, string] {
  const d = new Date(idTime(id));
  return [
    String(d.getUTCFullYear()).padStart(4, '0'),
    String(d.getUTCMonth() + 1).padStart(2, '0'),
    String(d.getUTCDate()).padStart(2, '0'),
  ];
}

/** Paths of a store rooted at `home`. */
export class StorePaths {
  constructor(readonly home: string) {}

  /** The directory holding active (`archived = false`) or archived logs. */
  root(archived: boolean): string {
    return join(this.home, archived ? ARCHIVED_DIR : SESSIONS_DIR);
  }

  /** The directory of a conversation's log. @throws {InvalidIdError} */
  dayDir(id: string, archived: boolean): string {
    return join(this.root(archived), ...dayParts(assertConversationId(id)));
  }

  /** The log of a conversation. @throws {InvalidIdError} */
  log(id: string, archived: boolean): string {
    const canonical = assertConversationId(id);
    return join(this.dayDir(canonical, archived), `${canonical}.jsonl`);
  }

  /** The directory of logs being created (see `CREATING_DIR`). */
  creatingDir(): string {
    return join(this.home, SESSIONS_DIR, CREATING_DIR);
  }

  /** Where a new conversation's log is written until its header is durable. @throws {InvalidIdError} */
  creating(id: string): string {
    return join(this.creatingDir(), `${assertConversationId(id)}.jsonl`);
  }

  /** The directories that hold conversations and leases (the home first), each the owner's only. */
  privateDirs(): string[] {
    return [this.home, this.root(false), this.root(true), join(this.home, LEASES_DIR), this.creatingDir()];
  }

  /** The side file keeping bytes cut from a torn last line. */
  torn(logPath: string): string {
    return `${logPath}.torn`;
  }
}

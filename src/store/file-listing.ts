/**
 * The file store's listing: pages of conversations from the listing index (rebuilt from the
 * logs when missing or of another format), with this process's exact update times laid over
 * the index's (which are written at most once a second per conversation), and the index
 * patches each commit makes. Entries whose log no longer exists are dropped as they are met.
 */
import { SessionNotFoundError } from '../errors.js';
import { assertConversationId, isConversationId } from '../protocol/ids.js';
import { reindexLogs } from './file-reindex.js';
import { describeError, type FileSystem } from './fs.js';
import { compareListed, cursorAfter, isAfter, matches, pageSize, parseCursor, type Listed } from './listing.js';
import type { IndexPatch, ListingIndex } from './listing-index.js';
import { readHead, type LogLocator } from './log-locator.js';
import type { StorePaths } from './paths.js';
import type { CommitEntry, CommitOptions, CommitOutcome, ConversationSummary, ListPage, ListQuery, LogIssue } from './store.js';
import { latestName, summaryOf } from './summary.js';

/** What a `FileListing` reads and updates. */
export interface FileListingOptions {
  readonly fs: FileSystem;
  readonly paths: StorePaths;
  readonly index: ListingIndex;
  readonly locator: LogLocator;
  /** The logs open for appending, by id: an open log is never missing. */
  readonly open: ReadonlyMap<string, unknown>;
  /** Where index failures and unreadable logs are reported. */
  readonly report: (issue: LogIssue) => void;
  /** The store's description, for `SessionNotFoundError`. */
  readonly store: string;
  /**
   * Whether the log at `path` never got its header (no conversation: a crash while it was
   * created), removing it when no live writer is creating it.
   */
  readonly discardHeaderless: (id: string, path: string) => Promise<boolean>;
}

/** Listing of a file store's conversations, and the index updates of its commits. */
export class FileListing {
  readonly #fs: FileSystem;
  readonly #paths: StorePaths;
  readonly #index: ListingIndex;
  readonly #locator: LogLocator;
  readonly #open: ReadonlyMap<string, unknown>;
  readonly #report: (issue: LogIssue) => void;
  readonly #store: string;
  readonly #discardHeaderless: (id: string, path: string) => Promise<boolean>;
  /** Conversations whose log was seen with its header (checked once per process). */
  readonly #headed = new Set<string>();
  /** When each conversation's update time was last written to the index (ms). */
  readonly #indexed = new Map<string, number>();
  /** When this process last appended to each conversation (ms): exact, unlike the index's. */
  readonly #updated = new Map<string, number>();

  constructor(options: FileListingOptions) {
    this.#fs = options.fs;
    this.#paths = options.paths;
    this.#index = options.index;
    this.#locator = options.locator;
    this.#open = options.open;
    this.#report = options.report;
    this.#store = options.store;
    this.#discardHeaderless = options.discardHeaderless;
  }

  // ——— index updates of commits ———

  /**
   * Creation patches for the listing index, appended (and fsynced unless durability is
   * `none`) before the logs are created, so that after a crash no log exists that the index
   * lacks. A failure here only leaves the index stale (listing repairs or rebuilds it) and is
   * reported; it never rejects.
   */
  async indexCreations(entries: readonly CommitEntry[], options: CommitOptions): Promise<void> {
    const now = Date.now();
    const patches: IndexPatch[] = [];
    for (const { conversationId: id, records } of entries) {
      const first = records[0];
      if (first?.type !== 'session_meta' || !isConversationId(id)) continue;
      const meta = first.payload;
      patches.push({
        id,
        c: Date.parse(meta.created_at) || now,
        u: now,
        ...(meta.name !== undefined ? { name: meta.name } : {}),
        ...(meta.metadata !== undefined ? { meta: meta.metadata } : {}),
        ...(meta.forked_from !== undefined ? { fork: meta.forked_from } : {}),
        model: meta.config.model,
        cwd: meta.config.cwd,
      });
      this.#indexed.set(id, now);
    }
    await this.#indexPatches(patches, options.durability !== 'none');
  }

  /**
   * What the committed records change in the listing index: a new name, or (at most once a
   * second per conversation; `list` overlays this process's exact times) a new update time.
   * Never rejects (as `indexCreations`).
   */
  async indexUpdates(entries: readonly CommitEntry[], outcomes: readonly CommitOutcome[]): Promise<void> {
    const now = Date.now();
    const patches: IndexPatch[] = [];
    entries.forEach(({ conversationId: id, records }, i) => {
      if (!outcomes[i]?.ok || records[0]?.type === 'session_meta') return;
      this.#updated.set(id, now);
      const name = latestName(records);
      if (name !== undefined) patches.push({ id, name, u: now });
      else if (now - (this.#indexed.get(id) ?? 0) >= 1_000) patches.push({ id, u: now });
      else return;
      this.#indexed.set(id, now);
    });
    await this.#indexPatches(patches, false);
  }

  async #indexPatches(patches: readonly IndexPatch[], durable: boolean): Promise<void> {
    if (patches.length === 0) return;
    try {
      await this.#index.append(patches, durable);
    } catch (err) {
      this.#report({ kind: 'bad_line', location: this.#index.path, line: 0, detail: `index not updated (${describeError(err)}); it is rebuilt when needed` });
    }
  }

  // ——— reading ———

  /**
   * The conversation as `list` shows it (from the index; from its log when the index lacks it).
   * @throws {SessionNotFoundError} when it has no log.
   * @throws {CorruptLogError} when the index lacks it and its log's header cannot be read.
   */
  async summary(id: string): Promise<ConversationSummary> {
    const { path, archived } = await this.#locator.locate(id);
    const canonical = assertConversationId(id);
    if (await this.#index.usable()) {
      const indexed = (await this.#index.all()).find((l) => l.summary.id === canonical);
      if (indexed) return this.#overlay(indexed).summary;
    }
    const listed = await this.#listed(path, archived);
    if (!listed) throw new SessionNotFoundError(id, this.#store);
    return this.#overlay(listed).summary;
  }

  async #listed(path: string, archived: boolean): Promise<Listed | null> {
    const [head, st] = await Promise.all([readHead(this.#fs, path), this.#fs.stat(path)]);
    if (head.type !== 'session_meta' || !st) return null;
    const updatedMs = Math.floor(st.mtimeMs);
    return { summary: summaryOf(head.payload, updatedMs, archived), updatedMs };
  }

  /**
   * A page of conversations, from the listing index (rebuilt from the logs first when it is
   * missing or of another format). Entries whose log no longer exists are dropped from the
   * index as they are met.
   * @throws {InvalidOpError} for a bad limit or cursor.
   */
  async list(query: ListQuery = {}): Promise<ListPage> {
    const limit = pageSize(query);
    const sort = query.sort ?? 'created';
    const position = parseCursor(query);
    if (!(await this.#index.usable())) await this.reindex();
    for (let attempt = 0; ; attempt++) {
      let candidates: Listed[];
      if (sort === 'created' && !position) {
        candidates = (await this.#index.newest(limit, (l) => matches(l.summary, query))).map((l) => this.#overlay(l));
      } else {
        candidates = await this.#ordered(sort, query, position);
        void this.#index.compactIfBloated().catch(() => {});
      }
      const page = candidates.slice(0, limit);
      const gone = await this.#missing(page);
      if (gone.length > 0 && attempt === 0) {
        await this.#index.append(gone.map((id) => ({ id, del: true as const })), false);
        continue;
      }
      const shown = page.filter((l) => !gone.includes(l.summary.id));
      const last = shown[shown.length - 1];
      return { items: shown.map((l) => l.summary), nextCursor: candidates.length > limit && last ? cursorAfter(last, sort) : null };
    }
  }

  /**
   * Conversations after the cursor, in order, from the index's sorted listing: a binary search
   * finds the cursor, and filters apply only when the query has any. This process's exact update
   * times are taken in (re-sorting when they change the order).
   */
  async #ordered(sort: 'created' | 'updated', query: ListQuery, position: ReturnType<typeof parseCursor>): Promise<Listed[]> {
    let sorted: readonly Listed[] = await this.#index.sorted(sort);
    if (this.#updated.size > 0) {
      sorted = sorted.map((l) => this.#overlay(l));
      if (sort === 'updated') sorted = [...sorted].sort(compareListed(sort));
    }
    let from = 0;
    if (position) {
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (isAfter(sorted[mid] as Listed, position, sort)) hi = mid;
        else lo = mid + 1;
      }
      from = lo;
    }
    const filtered = query.name !== undefined || query.metadata !== undefined || query.archived === true;
    const out: Listed[] = [];
    for (let i = from; i < sorted.length; i++) {
      const l = sorted[i] as Listed;
      if (filtered ? matches(l.summary, query) : !l.summary.archived) out.push(l);
      // One more than a page tells whether a next page exists.
      if (out.length > pageSize(query)) break;
    }
    return out;
  }

  /** A listed conversation with this process's exact update time, when it is newer. */
  #overlay(listed: Listed): Listed {
    const mine = this.#updated.get(listed.summary.id);
    if (mine === undefined || mine <= listed.updatedMs) return listed;
    return { summary: { ...listed.summary, updatedAt: new Date(mine).toISOString() }, updatedMs: mine };
  }

  /**
   * The ids of listed conversations whose log is gone, or never got its header (a crash while it
   * was created: no conversation, removed as it is met).
   */
  async #missing(page: readonly Listed[]): Promise<string[]> {
    const gone: string[] = [];
    await Promise.all(
      page.map(async ({ summary }) => {
        if (this.#open.has(summary.id)) return;
        let path = this.#paths.log(summary.id, summary.archived);
        if (!(await this.#fs.exists(path))) {
          path = this.#paths.log(summary.id, !summary.archived);
          if (!(await this.#fs.exists(path))) return void gone.push(summary.id);
        }
        if (this.#headed.has(summary.id)) return;
        if (await this.#discardHeaderless(summary.id, path)) return void gone.push(summary.id);
        this.#headed.add(summary.id);
      }),
    );
    return gone;
  }

  /**
   * Rebuild the listing index from the logs (active and archived): each log's header, last
   * name and modification time. Logs that cannot be read are left out and reported; logs that
   * never got their header are removed.
   */
  reindex(): Promise<void> {
    return reindexLogs(this.#fs, this.#paths, this.#index, this.#report, this.#discardHeaderless);
  }
}

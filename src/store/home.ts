/**
 * The permissions of a file store's home: it and the directories in it that hold
 * conversations and leases (`sessions/`, `archived/`, `leases/`) are the owner's only (0700).
 * Directories the store creates get that mode; when it opens a home, each of these that exists
 * with looser permissions (0755 from an older version, a copy, a hand-made directory) is
 * tightened, and one that another user owns, or that every user shares (sticky, as /tmp), is
 * refused: it is not this user's to change.
 */
import { StoreError } from '../errors.js';
import { describeError, DIRECTORY_FLAGS, errnoOf, type FileSystem } from './fs.js';

/** Permission bits of group and others. */
const GROUP_OR_OTHER = 0o077;
/** The sticky bit: a directory every user may create files in, such as /tmp. */
const STICKY = 0o1000;

/**
 * Make the directory at `path` the owner's only, if it exists: bits for group and others are
 * cleared (0755 becomes 0700). Resolves with whether it changed anything.
 * @throws {StoreError} when it is open to others and owned by another user than this process's,
 *   or cannot be opened or changed (the message names it and says what to do).
 */
export async function ownerOnly(fs: FileSystem, path: string): Promise<boolean> {
  let fd: number;
  try {
    fd = await fs.open(path, DIRECTORY_FLAGS);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return false;
    throw new StoreError(`cannot open the store directory ${path}: ${describeError(err)}`, { path, cause: err });
  }
  try {
    const full = await fs.fstatMode(fd);
    const mode = full & 0o777;
    if ((mode & GROUP_OR_OTHER) === 0) return false;
    if ((full & STICKY) !== 0) {
      throw new StoreError(`the store directory ${path} is a directory shared by every user (its sticky bit is set, as /tmp's), so it is not changed; use a directory of its own as the home`, { path });
    }
    const owner = await fs.fstatOwner(fd);
    const me = typeof process.getuid === 'function' ? process.getuid() : undefined;
    if (me !== undefined && owner !== me) {
      throw new StoreError(
        `the store directory ${path} is open to other users (mode ${mode.toString(8).padStart(4, '0')}) and belongs to another user (uid ${owner}; this process runs as uid ${me}), so it is not changed; make it mode 0700 as its owner (chmod 700 ${path}) or use another home`,
        { path },
      );
    }
    try {
      await fs.fchmod(fd, mode & ~GROUP_OR_OTHER);
    } catch (err) {
      throw new StoreError(`cannot make the store directory ${path} private (mode 0700): ${describeError(err)}`, { path, cause: err });
    }
    return true;
  } finally {
    await fs.close(fd).catch(() => {});
  }
}

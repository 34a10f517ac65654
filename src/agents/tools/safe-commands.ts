/**
 * Commands known to be harmless: read-only, no side effects, no way to run something else.
 * Under the `untrusted` approval policy only these run without asking (as Codex's
 * `is_known_safe_command`). When in doubt, a command is not safe: the user is asked.
 */

/** Programs that only read, with any arguments. */
const READ_ONLY = new Set([
  'cat', 'cd', 'cut', 'echo', 'expr', 'false', 'grep', 'head', 'id', 'ls', 'nl', 'paste', 'pwd', 'rev', 'seq', 'stat',
  'tail', 'tr', 'true', 'uname', 'uniq', 'wc', 'which', 'whoami', 'basename', 'dirname', 'date', 'file', 'du', 'df', 'tree',
]);

/** `find` options that run, delete or write. */
const FIND_UNSAFE = new Set(['-exec', '-execdir', '-ok', '-okdir', '-delete', '-fls', '-fprint', '-fprint0', '-fprintf']);
/** `rg` options that run other programs. */
const RG_UNSAFE = new Set(['--pre', '--hostname-bin', '--search-zip', '-z']);
/** `git` subcommands that only read. */
const GIT_READ_ONLY = new Set(['status', 'log', 'diff', 'show', 'branch', 'blame', 'rev-parse', 'ls-files', 'grep']);

/** Characters that make a command line more than a list of plain words. */
const SHELL_SYNTAX = /[`$<>(){}\\\n]|(?<!&)&(?!&)/;

/**
 * Split a command line into its commands at `&&`, `||`, `;` and `|`, and each into words.
 * Returns null for anything but plain words and simple quotes (redirections, substitutions,
 * variables, subshells, background jobs): such a line is never called safe.
 */
export function splitCommandLine(line: string): string[][] | null {
  if (SHELL_SYNTAX.test(line.replace(/'[^']*'/g, "''"))) return null;
  const commands: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end === -1) return null;
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === ' ' || c === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === ';' || c === '|' || c === '&') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      if ((c === '|' || c === '&') && line[i + 1] === c) i++;
      if (words.length === 0) return null;
      commands.push(words);
      words = [];
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  if (words.length > 0) commands.push(words);
  else if (commands.length > 0) return null;
  return commands;
}

function safeWords(words: readonly string[]): boolean {
  const [program, ...args] = words;
  if (program === undefined) return false;
  if (READ_ONLY.has(program)) return true;
  switch (program) {
    case 'find':
      return !args.some((a) => FIND_UNSAFE.has(a));
    case 'rg':
      return !args.some((a) => RG_UNSAFE.has(a) || a.startsWith('--pre='));
    case 'git':
      return args[0] !== undefined && GIT_READ_ONLY.has(args[0]) && !args.some((a) => a.startsWith('--output') || a === '-o');
    case 'sed':
      // Only `sed -n <N>p` / `<N>,<M>p` on files: prints lines.
      return args[0] === '-n' && args[1] !== undefined && /^\d+(,\d+)?p$/.test(args[1]);
    default:
      return false;
  }
}

/** Is `line` made only of commands known to be harmless? */
export function isKnownSafeCommand(line: string): boolean {
  const commands = splitCommandLine(line.trim());
  return commands !== null && commands.length > 0 && commands.every(safeWords);
}

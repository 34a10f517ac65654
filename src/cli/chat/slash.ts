/**
 * The slash commands of `colloquy chat`: parsed from an input line, with their help. No I/O.
 */

/** A parsed slash command, or why the line is not one. */
export type SlashCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'exit' }
  | { readonly kind: 'new' }
  | { readonly kind: 'status' }
  | { readonly kind: 'compact' }
  | { readonly kind: 'sessions'; readonly limit: number }
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'resume'; readonly id: string }
  | { readonly kind: 'fork'; readonly beforeTurn?: number }
  | { readonly kind: 'error'; readonly message: string };

/** One line per command, for `/help`. */
export const SLASH_HELP: readonly string[] = [
  '/resume <id>   continue another conversation (this one stays as it is)',
  '/fork [n]      fork this conversation (before its n-th user turn) and continue in the fork',
  '/compact       replace the earlier turns with a summary',
  '/sessions [n]  list the n (default 10) most recently updated conversations',
  '/name <name>   name this conversation',
  '/new           start a new conversation',
  '/status        show this conversation: id, name, settings, tokens',
  '/help          show this help',
  '/exit          quit (also /quit, Ctrl-D, or Ctrl-C at the prompt)',
  '',
  'Ctrl-C while the model works interrupts the turn; a second Ctrl-C quits.',
  'A line starting with "//" is sent as a message starting with "/".',
];

const positive = (text: string): number | null => (/^\d+$/.test(text) && Number(text) >= 1 && Number.isSafeInteger(Number(text)) ? Number(text) : null);

/**
 * Parse an input line that starts with `/`. Returns null for `//…` (a message, not a command).
 */
export function parseSlash(line: string): SlashCommand | null {
  const text = line.trim();
  if (!text.startsWith('/') || text.startsWith('//')) return null;
  const [word = '', ...args] = text.slice(1).split(/\s+/);
  const rest = text.slice(1 + word.length).trim();
  switch (word.toLowerCase()) {
    case 'help':
    case '?':
      return { kind: 'help' };
    case 'exit':
    case 'quit':
      return { kind: 'exit' };
    case 'new':
      return { kind: 'new' };
    case 'status':
      return { kind: 'status' };
    case 'compact':
      return { kind: 'compact' };
    case 'sessions': {
      if (args.length === 0) return { kind: 'sessions', limit: 10 };
      const n = positive(args[0] ?? '');
      return n !== null && n <= 1000 ? { kind: 'sessions', limit: n } : { kind: 'error', message: 'usage: /sessions [n] (n from 1 to 1000)' };
    }
    case 'name':
      return rest === '' ? { kind: 'error', message: 'usage: /name <name>' } : rest.length > 256 ? { kind: 'error', message: 'a name has at most 256 characters' } : { kind: 'name', name: rest };
    case 'resume':
      return args.length === 1 && args[0] ? { kind: 'resume', id: args[0] } : { kind: 'error', message: 'usage: /resume <id> (/sessions lists ids)' };
    case 'fork': {
      if (args.length === 0) return { kind: 'fork' };
      const n = args.length === 1 ? positive(args[0] ?? '') : null;
      return n !== null ? { kind: 'fork', beforeTurn: n } : { kind: 'error', message: 'usage: /fork [n] (n: keep the user turns before the n-th)' };
    }
    default:
      return { kind: 'error', message: `unknown command /${word}; /help lists the commands` };
  }
}

/** The message a `//…` line sends: the line without its first slash. */
export function unescapeSlash(line: string): string {
  return line.trimStart().startsWith('//') ? line.trimStart().slice(1) : line;
}

/**
 * Text the commands print: table cells, times, shell words.
 */

/** One line of text for a table cell: newlines and tabs shown as `⏎` and spaces, cut to `max` characters. */
export function oneLine(text: string, max = 80): string {
  const flat = text.replace(/\r?\n/g, ' ⏎ ').replace(/\t/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** An ISO time without milliseconds (`2026-05-05T18:28:34Z`). */
export function shortTime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

/** A word as a POSIX shell reads it back: as is when it is plain, else single-quoted. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

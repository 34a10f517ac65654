/**
 * Authentication of the control server: one bearer token per server, made with
 * `crypto.randomBytes`, compared in constant time. A request carries it as
 * `Authorization: Bearer <token>`, as a `token` query parameter (the console's first page
 * load, WebSocket clients that cannot set headers) or in the cookie the console's login sets.
 * Requests that come from a web page of another origin are refused whatever they carry.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A new random token: 32 random bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Whether `given` is `expected`, in time that does not depend on where they differ. */
export function tokenMatches(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== 'string' || given === '') return false;
  return timingSafeEqual(digest(given), digest(expected));
}

/** The cookie the console's login sets: per port, since cookies are shared between ports of a host. */
export function cookieName(port: number): string {
  return `colloquy_token_${port}`;
}

/** The value of cookie `name` in a request, or null. */
export function cookieOf(req: IncomingMessage, name: string): string | null {
  const header = req.headers.cookie;
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return null;
    }
  }
  return null;
}

/** The bearer token of an `Authorization` header, or null. */
export function bearerOf(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? (m[1] as string) : null;
}

/** Every credential a request carries (header, query parameter, cookie). */
export function credentialsOf(req: IncomingMessage, url: URL, cookie: string): string[] {
  return [bearerOf(req), url.searchParams.get('token'), cookieOf(req, cookie)].filter((t): t is string => t !== null);
}

/**
 * Closing an HTTP server and the WebSocket server on it: clients get a close frame (1001,
 * going away) and one second to answer it before their sockets are cut, then the listener
 * closes. Shared by the control server and the inspection relay.
 */
import type { Server } from 'node:http';
import type { WebSocketServer } from 'ws';

/** How long clients have to answer the close handshake before they are cut (ms). */
export const CLOSE_GRACE_MS = 1000;

/** Close `wss` and then `server`; resolves when both are closed. Never rejects. */
export function closeServers(server: Server, wss: WebSocketServer, reason: string): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const client of wss.clients) client.close(1001, reason);
    const cut = setTimeout(() => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
    }, CLOSE_GRACE_MS);
    cut.unref();
    wss.close(() => {
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    });
  });
}

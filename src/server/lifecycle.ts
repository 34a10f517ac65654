/**
 * Starting and stopping an HTTP server with a WebSocket server on it, shared by the control
 * server and the inspection relay. Closing: clients get a close frame (1001, going away) and one
 * second to answer it before their sockets are cut, then the listener closes.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebSocketServer } from 'ws';

/**
 * Listen on `host`:`port` (0: a free port the system picks) and resolve with the address bound.
 * @throws the listen error (`EADDRINUSE`, `EACCES`…).
 */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

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

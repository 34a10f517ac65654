/**
 * The inspection relay: a WebSocket server that speaks the protocol of `@statelyai/inspect`'s
 * `createInspectorServer` (every text message a client sends is re-broadcast to the other
 * clients, and replayed to clients that connect later), plus the bridge page that embeds the
 * Stately inspector and feeds it what the relay receives.
 *
 * Why not `createInspectorServer` itself: it listens on every interface with no way to choose
 * (anyone on the network could read the inspected conversations), opens a browser unless
 * told not to, replays only the last 200 messages (so a UI that connects late never learns of
 * the actors registered before them) and its page connects to `localhost`, which may resolve
 * to `::1`. This relay is built from the same pieces (`node:http` and `ws`, the library's own
 * dependency) and:
 *
 * - listens on 127.0.0.1 only, never opens a browser;
 * - accepts WebSocket connections only from its own page or from clients that send no
 *   `Origin` (programs), and HTTP requests only addressed to itself (no DNS rebinding);
 * - replays the latest registration (`@xstate.actor`) of up to `maxActors` actors, then the
 *   last `replay` other messages;
 * - drops a client whose unsent backlog exceeds `maxBacklogBytes` rather than buffering
 *   without bound.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { closeServers, listen } from '../server/lifecycle.js';

/** Where the relay listens: always this address. */
export const RELAY_HOST = '127.0.0.1';

/** The hosted Stately inspector the bridge page embeds (it needs internet access to load). */
export const STATELY_INSPECTOR_URL = 'https://stately.ai/inspect';

/** Options of `startRelay`: its port on 127.0.0.1 and what it keeps for clients that connect late. */
export interface RelayOptions {
  /** TCP port on 127.0.0.1. Default 0: a free port chosen by the system. */
  readonly port?: number;
  /** Messages (other than actor registrations) replayed to a client that connects. Default 200. */
  readonly replay?: number;
  /** Actor registrations kept for replay (the latest per actor; oldest dropped first). Default 1000. */
  readonly maxActors?: number;
  /** A client with more unsent bytes than this is disconnected (close code 1013). Default 32 MiB. */
  readonly maxBacklogBytes?: number;
  /** The inspector UI the bridge page embeds. Default `https://stately.ai/inspect`. */
  readonly inspectorUrl?: string;
}

/** A running relay. */
export interface Relay {
  /** The bridge page, `http://127.0.0.1:<port>/`: open it in a browser to see the statecharts. */
  readonly url: string;
  /** Where inspection clients connect (`createWebSocketInspector({ url: wsUrl })`), `ws://127.0.0.1:<port>`. */
  readonly wsUrl: string;
  /** The bound address (always 127.0.0.1). */
  readonly address: AddressInfo;
  /** Connected WebSocket clients. */
  readonly clients: number;
  /**
   * Send a message (a serialized Stately inspection event) to every client and keep it for
   * replay. `actor` is the actor's session id when the message is its `@xstate.actor`
   * registration.
   */
  publish(message: string, actor?: string): void;
  /** Disconnect every client and stop listening. */
  close(): Promise<void>;
}

function bridgePage(wsUrl: string, inspectorUrl: string): string {
  const attr = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Colloquy · Stately inspector</title>
  <style>* { margin: 0; padding: 0; } html, body { height: 100%; } iframe { width: 100%; height: 100%; border: none; }</style>
</head>
<body>
  <iframe id="inspector" src="${attr(inspectorUrl)}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    const buffer = [];
    let connected = false;
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        for (const event of buffer) iframe.contentWindow.postMessage(event, '*');
        buffer.length = 0;
      }
    });
    const ws = new WebSocket(${JSON.stringify(wsUrl)});
    ws.onmessage = (event) => {
      const data = JSON.parse(event.data);
      if (connected) iframe.contentWindow.postMessage(data, '*');
      else buffer.push(data);
    };
  </script>
</body>
</html>`;
}

/** The session id of an `@xstate.actor` message from a client, or undefined. */
function actorOf(message: string): string | undefined {
  if (!message.includes('"@xstate.actor"')) return undefined;
  try {
    const parsed = JSON.parse(message) as { type?: unknown; sessionId?: unknown };
    return parsed.type === '@xstate.actor' && typeof parsed.sessionId === 'string' ? parsed.sessionId : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Start a relay on 127.0.0.1.
 * @throws the listen error (e.g. `EADDRINUSE` when `port` is taken).
 */
export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const replay = options.replay ?? 200;
  const maxActors = options.maxActors ?? 1000;
  const maxBacklog = options.maxBacklogBytes ?? 32 * 2 ** 20;
  const inspectorUrl = options.inspectorUrl ?? STATELY_INSPECTOR_URL;
  const actors = new Map<string, string>();
  let recent: string[] = [];
  let port = 0;

  const selfHosts = (): string[] => [`${RELAY_HOST}:${port}`, `localhost:${port}`];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!selfHosts().includes(req.headers.host ?? '')) {
      res.writeHead(421, { 'content-type': 'text/plain' }).end('misdirected request\n');
      return;
    }
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
      .end(bridgePage(`ws://${RELAY_HOST}:${port}`, inspectorUrl));
  });
  const wss = new WebSocketServer({
    server,
    maxPayload: 16 * 2 ** 20,
    verifyClient: ({ origin, req }: { origin?: string; req: IncomingMessage }) =>
      selfHosts().includes(req.headers.host ?? '') && (origin === undefined || selfHosts().some((h) => origin === `http://${h}`)),
  });

  const send = (client: WebSocket, message: string): void => {
    if (client.readyState !== WebSocket.OPEN) return;
    if (client.bufferedAmount > maxBacklog) {
      client.close(1013, 'too far behind');
      return;
    }
    client.send(message);
  };
  const keep = (message: string, actor: string | undefined): void => {
    if (actor !== undefined) {
      actors.delete(actor);
      actors.set(actor, message);
      if (actors.size > maxActors) actors.delete(actors.keys().next().value as string);
      return;
    }
    if (replay <= 0) return;
    recent.push(message);
    if (recent.length > replay * 2) recent = recent.slice(-replay);
  };

  wss.on('connection', (ws) => {
    for (const message of actors.values()) send(ws, message);
    for (const message of recent.slice(-replay)) send(ws, message);
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = data.toString();
      keep(message, actorOf(message));
      for (const client of wss.clients) if (client !== ws) send(client, message);
    });
  });

  const address = await listen(server, options.port ?? 0, RELAY_HOST);
  port = address.port;
  let closing: Promise<void> | null = null;

  return {
    url: `http://${RELAY_HOST}:${port}/`,
    wsUrl: `ws://${RELAY_HOST}:${port}`,
    address,
    get clients() {
      return wss.clients.size;
    },
    publish(message, actor) {
      keep(message, actor);
      for (const client of wss.clients) send(client, message);
    },
    close() {
      closing ??= closeServers(server, wss, 'relay closing');
      return closing;
    },
  };
}

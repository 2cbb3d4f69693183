import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request to a JSON API double, its body parsed. */
export interface JsonRequest {
  method: string;
  url: URL;
  body: unknown;
  headers: IncomingMessage['headers'];
}

/** How an API says "that is not JSON" and "we crashed", in its own error shape. */
export interface JsonErrors {
  badJson: unknown;
  crash: unknown;
}

/**
 * The HTTP side shared by the API doubles (GitHub, DigitalOcean): a loopback server that parses
 * each request's JSON body, answers 400 in the API's own shape when it is not JSON, and records a
 * crash of the double as a violation (every test expects none) instead of hanging the client.
 */
export class JsonDoubleServer {
  private server?: Server;

  constructor(
    private readonly handle: (request: JsonRequest, res: ServerResponse) => Promise<void>,
    private readonly errors: JsonErrors,
    private readonly violations: string[],
  ) {}

  async start(host: string): Promise<string> {
    const server = createServer((req, res) => {
      this.dispatch(req, res).catch((error: unknown) => {
        this.violations.push(`double crashed: ${String(error)}`);
        sendJson(res, 500, this.errors.crash);
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return `http://${host}:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        this.violations.push(`${method} ${url.pathname}: body is not JSON`);
        return sendJson(res, 400, this.errors.badJson);
      }
    }
    await this.handle({ method, url, body, headers: req.headers }, res);
  }
}

/** Answers with a JSON body (or none, for a 204), plus any headers the API always sends. */
export function sendJson(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  if (body === undefined) {
    res.end();
    return;
  }
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The plumbing shared by the local provider fakes: a server on 127.0.0.1 at a random port, a
 * request's raw body, and a switch that makes the next answers never arrive (the provider did
 * the work, the answer got lost: a timeout, for reconciliation to sort out).
 */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeAnswer {
  status: number;
  body: string;
  contentType: string;
}

export class HttpFake {
  private server: Server | null = null;
  private held: ServerResponse[] = [];
  /** How many of the next answers to withhold (the work is still done). */
  dropAnswers = 0;
  /** Withhold the answer to the next request this matches (the work is still done). */
  dropAnswerTo: ((request: FakeRequest) => boolean) | null = null;
  readonly requests: FakeRequest[] = [];
  url = '';

  constructor(private readonly handle: (request: FakeRequest) => FakeAnswer | Promise<FakeAnswer>) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  private async serve(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const request = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(request);
    const answer = await this.handle(request);
    const dropThis = this.dropAnswerTo?.(request) ?? false;
    if (dropThis) this.dropAnswerTo = null;
    if (dropThis || this.dropAnswers > 0) {
      if (!dropThis) this.dropAnswers--;
      this.held.push(res);
      return;
    }
    res.writeHead(answer.status, { 'content-type': answer.contentType });
    res.end(answer.body);
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export const json = (status: number, body: unknown): FakeAnswer => ({
  status,
  body: JSON.stringify(body),
  contentType: 'application/json',
});

import * as http from 'http';
import { parseListen, clientTarget, formatListen, type ListenAddress } from '../config/listen';

export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CliError';
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EADDRNOTAVAIL', 'EPIPE']);

export interface Response {
  status: number;
  contentType: string;
  body: string;
}

// Talks to the daemon's HTTP API. Every failure becomes a CliError with a one-line reason.
export class ApiClient {
  readonly target: ListenAddress;
  constructor(
    listen: string,
    private readonly token: string | null = null,
    private readonly timeoutMs = 10000,
    private readonly tokenNote?: string, // why no token is sent, for the 401 message
  ) {
    this.target = clientTarget(parseListen(listen));
  }

  get where(): string {
    return formatListen(this.target);
  }

  private unreachable(code: string): CliError {
    return new CliError(`cannot reach the daemon at ${this.where} (${code}); is slipstream running?`);
  }

  private open(method: string, path: string, withToken: boolean): http.ClientRequest {
    const headers: Record<string, string> = { accept: 'application/json, text/*' };
    if (withToken && this.token) headers.authorization = `Bearer ${this.token}`;
    return http.request({ host: this.target.host, port: this.target.port, method, path, headers });
  }

  request(method: 'GET' | 'POST', path: string, timeoutMs = this.timeoutMs): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = this.open(method, path, method === 'POST');
      const timer = setTimeout(() => {
        req.destroy();
        reject(new CliError(`the daemon at ${this.where} did not answer ${method} ${path} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(e.code && UNREACHABLE.has(e.code) ? this.unreachable(e.code) : new CliError(`request to ${this.where} failed: ${e.code ?? e.message}`));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => {
          clearTimeout(timer);
          reject(new CliError(`reading the answer from ${this.where} failed: ${e.message}`));
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      req.end();
    });
  }

  // JSON answer of a 2xx (or an allowed) status; other statuses become a one-line CliError.
  async json(method: 'GET' | 'POST', path: string, opts: { okStatuses?: number[]; timeoutMs?: number } = {}): Promise<{ status: number; data: unknown }> {
    const r = await this.request(method, path, opts.timeoutMs);
    const ok = (r.status >= 200 && r.status < 300) || (opts.okStatuses ?? []).includes(r.status);
    let data: unknown;
    try {
      data = JSON.parse(r.body);
    } catch {
      if (ok) throw new CliError(`the daemon at ${this.where} sent something that is not JSON for ${path} (HTTP ${r.status})`);
      data = null;
    }
    if (!ok) throw this.httpError(r.status, data, path);
    return { status: r.status, data };
  }

  httpError(status: number, data: unknown, path: string): CliError {
    const msg = data && typeof data === 'object' && typeof (data as { message?: unknown }).message === 'string' ? (data as { message: string }).message : `HTTP ${status}`;
    if (status === 401) {
      return new CliError(`the daemon refused the request: ${msg}${this.token ? '' : `; no token was sent: ${this.tokenNote ?? 'pass --token-file'}`}`);
    }
    return new CliError(`${msg} (HTTP ${status} from ${path})`);
  }

  // Reads a Server-Sent Events stream, calling onEvent per event, until the stream or signal ends.
  events(path: string, onEvent: (type: string, data: string) => boolean | void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = this.open('GET', path, false);
      req.setHeader('accept', 'text/event-stream');
      const stop = (): void => {
        req.destroy();
        resolve();
      };
      signal?.addEventListener('abort', stop, { once: true });
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (signal?.aborted) return resolve();
        reject(e.code && UNREACHABLE.has(e.code) ? this.unreachable(e.code) : new CliError(`event stream from ${this.where} failed: ${e.code ?? e.message}`));
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            let data: unknown = null;
            try {
              data = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              /* not JSON: the status says enough */
            }
            reject(this.httpError(res.statusCode ?? 0, data, path));
          });
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let end: number;
          while ((end = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let type = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              if (line.startsWith('event:')) type = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (data.length > 0 && onEvent(type, data.join('\n')) === false) return stop();
          }
        });
        res.on('end', () => (signal?.aborted ? resolve() : reject(new CliError(`the daemon at ${this.where} closed the event stream`))));
      });
      req.end();
    });
  }
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DaemonEvent, DaemonView } from '../daemon/view';

// A client that reads slower than events arrive is dropped past this much buffered output.
const MAX_BUFFERED = 1 << 20;

export function formatSse(ev: DaemonEvent): string {
  return `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;
}

export class EventStreams {
  private readonly open = new Set<() => void>();
  constructor(private readonly view: DaemonView, private readonly heartbeatMs: number) {}

  serve(req: FastifyRequest, reply: FastifyReply, types: Set<string> | null): void {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': slipstream events\n\n');
    let closed = false;
    const unsubscribe = this.view.subscribe((ev) => {
      if (closed || (types && !types.has(ev.type))) return;
      if (res.writableLength > MAX_BUFFERED) {
        req.log.warn('dropping a slow event-stream client');
        close();
        return;
      }
      res.write(formatSse(ev));
    });
    const timer = setInterval(() => res.write(': keepalive\n\n'), this.heartbeatMs);
    timer.unref();
    const close = (): void => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      unsubscribe();
      this.open.delete(close);
      res.end();
    };
    this.open.add(close);
    req.raw.on('close', close);
    res.on('close', close);
    res.on('error', close);
  }

  closeAll(): void {
    for (const close of [...this.open]) close();
  }

  get count(): number {
    return this.open.size;
  }
}

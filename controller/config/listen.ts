// "host:port" as used by api.listen and the CLI's --api. IPv6 hosts go in brackets.

export interface ListenAddress {
  host: string; // without brackets
  port: number;
}

export const DEFAULT_API_LISTEN = '127.0.0.1:8740';

export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.%a-zA-Z0-9]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not HOST:PORT (IPv6 as [addr]:port)`);
  const host = m[1] ?? m[2] ?? '';
  if (host === '') throw new Error(`"${text}" has an empty host; say 127.0.0.1 (or 0.0.0.0 to listen everywhere)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`"${text}": port ${port} is out of range`);
  return { host, port };
}

export function formatListen(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// Where a client should connect to reach a server listening on `a`.
export function clientTarget(a: ListenAddress): ListenAddress {
  if (a.host === '0.0.0.0') return { host: '127.0.0.1', port: a.port };
  if (a.host === '::') return { host: '::1', port: a.port };
  return a;
}

// Tiny UDP sender/sink run inside a lab namespace (nsenter ... node udp-tool.js ...).
//   sink <bind-addr> <port>           prints "ready", then {"packets","bytes"} on SIGTERM/SIGINT
//   send <dst> <port> <count> <size> [pps]   prints {"sent"} when done
import dgram from 'node:dgram';

function sink(bind: string, port: number): void {
  const sock = dgram.createSocket({ type: bind.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 4 << 20 });
  let packets = 0;
  let bytes = 0;
  sock.on('message', (msg) => {
    packets++;
    bytes += msg.length;
  });
  const finish = (): void => {
    process.stdout.write(JSON.stringify({ packets, bytes }) + '\n', () => process.exit(0));
  };
  process.on('SIGTERM', finish);
  process.on('SIGINT', finish);
  sock.bind(port, bind, () => process.stdout.write('ready\n'));
}

async function send(dst: string, port: number, count: number, size: number, pps: number): Promise<void> {
  const sock = dgram.createSocket(dst.includes(':') ? 'udp6' : 'udp4');
  const payload = Buffer.alloc(size, 0x5a);
  let sent = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) {
    payload.writeUInt32BE(i >>> 0, 0);
    await new Promise<void>((resolve) => sock.send(payload, port, dst, () => resolve()));
    sent++;
    if (pps > 0) {
      const due = start + (BigInt(i + 1) * 1_000_000_000n) / BigInt(pps);
      const now = process.hrtime.bigint();
      if (due > now) await new Promise((r) => setTimeout(r, Number((due - now) / 1_000_000n)));
    }
  }
  sock.close();
  process.stdout.write(JSON.stringify({ sent }) + '\n');
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'sink') {
  sink(args[0], Number(args[1]));
} else if (mode === 'send') {
  send(args[0], Number(args[1]), Number(args[2]), Number(args[3] ?? 64), Number(args[4] ?? 0)).catch((e: unknown) => {
    process.stderr.write(String(e) + '\n');
    process.exit(1);
  });
} else {
  process.stderr.write('usage: udp-tool sink <addr> <port> | send <dst> <port> <count> <size> [pps]\n');
  process.exit(2);
}

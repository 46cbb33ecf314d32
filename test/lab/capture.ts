// Packet capture with the real tcpdump: start it in a namespace, stop it by pid, read the
// frames back from its pcap file (classic format, Ethernet link type). Immediate mode: with
// TPACKET_V3's block buffering, frames still in a half-filled block are lost on the stop.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { ChildProcess } from 'child_process';
import type { Lab } from './lab';

export interface Capture {
  stop(): Promise<Buffer[]>;
  // After stop(): frames the interface received while tcpdump listened, and frames the file
  // holds. Fewer captured than received means the capture, not the path, lost frames.
  tally: { received: number; captured: number } | null;
}

const PCAP_MAGIC_LE = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;

// The frames of a pcap file, in order.
export function readPcap(buf: Buffer): Buffer[] {
  if (buf.length < 24) return [];
  if (buf.readUInt32LE(0) !== PCAP_MAGIC_LE) throw new Error('not a little-endian microsecond pcap file');
  if (buf.readUInt32LE(20) !== LINKTYPE_ETHERNET) throw new Error(`pcap link type ${buf.readUInt32LE(20)}, not Ethernet`);
  const out: Buffer[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const incl = buf.readUInt32LE(off + 8);
    if (off + 16 + incl > buf.length) break; // cut short by the stop
    out.push(Buffer.from(buf.subarray(off + 16, off + 16 + incl)));
    off += 16 + incl;
  }
  return out;
}

function waitListening(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited (${code}): ${err}`));
    });
  });
}

function framesIn(file: string): number {
  try {
    return readPcap(fs.readFileSync(file)).length;
  } catch {
    return 0;
  }
}

const SETTLE_MS = 3000;

// Captures frames arriving on ifname in ns (inbound only, whole frames, unbuffered).
// stop() first waits until the file holds as many frames as the interface received since
// tcpdump listened (up to SETTLE_MS): a stopped tcpdump drops what it has not read yet, one
// possible way a loaded CI run once lost frames of a kernel-differential case.
export async function captureInbound(lab: Lab, ns: string, ifname: string): Promise<Capture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-cap-'));
  const file = path.join(dir, 'in.pcap');
  const child = lab.spawn(ns, ['tcpdump', '-i', ifname, '-Q', 'in', '--immediate-mode', '-s', '0', '-U', '-n', '-w', file]);
  try {
    await waitListening(child, 10000);
  } catch (e) {
    lab.kill(child, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const rx0 = lab.rxPackets(ns, ifname);
  const cap: Capture = {
    tally: null,
    async stop(): Promise<Buffer[]> {
      const until = Date.now() + SETTLE_MS;
      while (Date.now() < until && framesIn(file) < lab.rxPackets(ns, ifname) - rx0) await new Promise((r) => setTimeout(r, 20));
      const received = lab.rxPackets(ns, ifname) - rx0;
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      lab.kill(child, 'SIGINT');
      const hard = setTimeout(() => lab.kill(child, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(hard);
      try {
        const frames = readPcap(fs.readFileSync(file));
        cap.tally = { received, captured: frames.length };
        return frames;
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  return cap;
}

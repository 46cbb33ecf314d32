// Every addon entry point meets garbage arguments with a JS Error, never a crash.
import t from 'tap';
import { native } from '../../controller/native';

const samples: unknown[][] = [
  [],
  [undefined],
  [null],
  [-1],
  [2 ** 40],
  [1.5],
  [NaN],
  ['no-such-thing-é'],
  [''],
  [{}],
  [[]],
  [Buffer.alloc(0)],
  [123456n],
  [99999, Buffer.alloc(1)],
  [99999, Buffer.alloc(4), Buffer.alloc(4), 99],
  [0, 0, 0, 0, 0],
  [-5, 'x', {}, null],
  [{ data: 'x' }],
  [99999, { data: Buffer.alloc(10), repeat: -1 }],
  [{ protocol: 0 }],
  [{ protocol: 0, onMessages: 1, onOverflow: 2 }],
  [{ kind: 'tcx', linkFd: -1 }],
  [{ kind: 'clsact', ifindex: 0 }],
];

// Functions whose success with a sample would change this process in ways we don't want
// (enterNetns only accepts existing names, and none of the samples is one).
const skip = new Set<string>([]);

t.test('garbage in, errors out', async (t) => {
  const addon = native as unknown as Record<string, (...a: unknown[]) => unknown>;
  let calls = 0;
  for (const name of Object.keys(addon).sort()) {
    if (skip.has(name) || typeof addon[name] !== 'function') continue;
    for (const args of samples) {
      calls++;
      try {
        const r = addon[name](...args);
        if (r instanceof Promise) await r.catch(() => undefined);
        if (r && typeof r === 'object' && 'close' in r && typeof (r as { close: unknown }).close === 'function') {
          (r as { close(): void }).close();
        }
      } catch (e) {
        if (!(e instanceof Error)) t.fail(`${name}(${args.length} args) threw a non-Error`);
        else if (typeof (e as { code?: unknown }).code !== 'string' && !(e instanceof TypeError)) {
          t.fail(`${name}: error without code: ${e.message}`);
        }
      }
    }
  }
  t.ok(calls > 500, `${calls} calls, process alive`);
});

// Shared helpers of the introspection integration tests.
import { Introspector, type UpdateEvent } from '../../controller/model';
import type { Graph, ServiceNode } from '../../controller/graph';
import type { KernelModel } from '../../controller/model/types';

export function service(g: Graph, id: string): ServiceNode | undefined {
  return g.services.find((s) => s.id === id);
}

// Resolves with the first update (or the current state) for which pred holds.
export function waitFor(
  intro: Introspector,
  pred: (g: Graph, m: KernelModel) => boolean,
  what: string,
  timeoutMs = 5000,
): Promise<UpdateEvent | null> {
  if (pred(intro.graph, intro.model)) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      intro.off('update', on);
      reject(new Error(`timed out waiting for: ${what}\nservices: ${JSON.stringify(intro.graph.services, null, 1)}`));
    }, timeoutMs);
    const on = (u: UpdateEvent): void => {
      if (!pred(u.graph, u.model)) return;
      clearTimeout(timer);
      intro.off('update', on);
      resolve(u);
    };
    intro.on('update', on);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// Waits until no update came for quietMs.
export async function settle(intro: Introspector, quietMs = 400, maxMs = 20000): Promise<void> {
  const end = Date.now() + maxMs;
  let last = Date.now();
  const on = (): void => {
    last = Date.now();
  };
  intro.on('update', on);
  intro.on('resync', on);
  try {
    while (Date.now() - last < quietMs) {
      if (Date.now() > end) throw new Error('introspector never settled');
      await sleep(50);
    }
  } finally {
    intro.off('update', on);
    intro.off('resync', on);
  }
}

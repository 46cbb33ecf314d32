// The scenario registry: names are part of the CLI (`--scenario NAME`).
import type { Scenario } from './context';
import { forwardingCases, runForwarding, setupBridge, setupGateway, setupRouter } from './forwarding';
import { runEpping } from './epping';
import { runTailcallHops } from './tailcall';
import { runSwapLatency } from './swap';
import { runControlPlaneScale } from './scale';

export const SCENARIOS: Scenario[] = [
  {
    name: 'bridge',
    description: 'Linux bridge vs slipstream bridge pipeline vs ref_l2',
    available: true,
    run: (ctx) => runForwarding(ctx, 'bridge', (lab, n) => setupBridge(ctx, lab, n), forwardingCases(ctx.quick)),
  },
  {
    name: 'router-v4',
    description: 'Linux IPv4 forwarding vs slipstream router pipeline vs ref_fib',
    available: true,
    run: (ctx) => runForwarding(ctx, 'router-v4', (lab) => setupRouter(ctx, lab, 4), forwardingCases(ctx.quick)),
  },
  {
    name: 'router-v6',
    description: 'Linux IPv6 forwarding vs slipstream router pipeline vs ref_fib',
    available: true,
    run: (ctx) => runForwarding(ctx, 'router-v6', (lab) => setupRouter(ctx, lab, 6), forwardingCases(ctx.quick)),
  },
  {
    name: 'gateway',
    description: 'routed into a bridge (WAN -> LAN host through br0): Linux vs slipstream vs ref_gw',
    available: true,
    run: (ctx) => runForwarding(ctx, 'gateway', (lab) => setupGateway(ctx, lab), forwardingCases(ctx.quick, false)),
  },
  ...[1, 100, 1000].map((flows): Scenario => ({
    name: `epping-${flows}`,
    description: `router pipeline with the latency monitor off vs on (100 ms sampling, unlimited), ${flows} TCP flow(s)`,
    available: true,
    run: (ctx) => runEpping(ctx, flows, 'router'),
  })),
  ...[1, 100, 1000].map((flows): Scenario => ({
    name: `epping-bridge-${flows}`,
    description: `bridge pipeline with the latency monitor off vs on (100 ms sampling, unlimited), ${flows} TCP flow(s)`,
    available: true,
    run: (ctx) => runEpping(ctx, flows, 'bridge'),
  })),
  {
    name: 'tailcall-hops',
    description: 'pipelines of 0..8 nop FPMs before an XDP_DROP: ns per tail-call hop',
    available: true,
    run: (ctx) => runTailcallHops(ctx),
  },
  {
    name: 'swap-latency',
    description: 'netlink event -> new generation live, p50/p99',
    available: true,
    run: (ctx) => runSwapLatency(ctx),
  },
  {
    name: 'swap-latency-epping',
    description: 'the same with the latency monitor on: each generation carries it',
    available: true,
    run: (ctx) => runSwapLatency(ctx, true),
  },
  {
    name: 'control-plane-scale',
    description: '100k routes, 10k FDB entries, 200 devices: start-up time, RSS, 10k-route burst',
    available: true,
    run: (ctx) => runControlPlaneScale(ctx),
  },
];

// Listed, reported as "not available".
export const UNAVAILABLE = ['queueing'];

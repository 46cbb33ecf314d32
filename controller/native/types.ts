// The native addon's surface (native/src). Every failure throws a NativeError;
// no input may abort the process.

export interface NativeError extends Error {
  errno: number; // positive errno, 0 when not a system error
  code: string; // 'ENOENT', 'EINVAL', ... or 'EVERIFIER' for a verifier rejection
  verifierLog?: string; // set when a program load was rejected
  libbpfLog?: string; // libbpf's warnings for failed openObject/load (added by the native helper)
}

export interface ProgramInfo {
  name: string;
  fd: number;
  id: number;
  type: number; // BPF_PROG_TYPE_*
}

export interface MapInfo {
  name: string;
  fd: number;
  id: number;
  type: number; // BPF_MAP_TYPE_*
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export type RodataValue = number | bigint | boolean | Buffer;

export interface BpfObject {
  readonly path: string;
  // Before load: set `const volatile` globals in .rodata by name. Numbers are
  // written in the variable's own width (1, 2, 4 or 8 bytes, little endian).
  setRodata(values: Record<string, RodataValue>): void;
  // Before load: use an existing map (same type/key/value/max_entries) instead of creating one.
  reuseMap(mapName: string, fd: number): void;
  setMaxEntries(mapName: string, maxEntries: number): void;
  // Throws NativeError with code EVERIFIER and verifierLog when the kernel rejects a program.
  load(): void;
  programs(): ProgramInfo[];
  program(name: string): ProgramInfo; // throws ENOENT
  maps(): MapInfo[];
  map(name: string): MapInfo; // throws ENOENT
  // Closes the object; program/map fds obtained from it become invalid unless dup'ed.
  close(): void;
}

export interface XdpQuery {
  progId: number; // the single attached program, 0 if none
  mode: 'none' | 'native' | 'generic' | 'offload' | 'multi';
  drvProgId: number;
  skbProgId: number;
  hwProgId: number;
}

export interface LinkInfo {
  id: number;
  progId: number;
  type: number; // BPF_LINK_TYPE_*
  ifindex: number; // for XDP/tcx links, 0 otherwise
}

export interface TestRunOptions {
  data: Buffer; // the frame
  repeat?: number;
  flags?: number; // e.g. BPF_F_TEST_XDP_LIVE_FRAMES
  batchSize?: number; // live frames
  ingressIfindex?: number; // xdp_md.ingress_ifindex in the context
  rxQueueIndex?: number;
  cpu?: number; // pin the calling worker thread to this CPU for the run
  dataOutSize?: number; // bytes to capture of the output frame (default: data.length + 256)
  // Run inside /var/run/netns/<name> (ingressIfindex resolves there). testRunAsync without
  // it runs in the caller's netns at call time, so inNetns(ns, () => testRunAsync(..)) works.
  netns?: string;
}

export interface TestRunResult {
  retval: number;
  durationNs: number; // average per repeat, as the kernel reports
  dataOut: Buffer;
}

export interface TcAttachment {
  kind: 'tcx' | 'clsact';
  linkFd: number; // tcx: bpf_link fd; clsact: -1
  ifindex: number;
  handle: number; // clsact filter handle, 0 for tcx
  priority: number; // clsact filter priority, 0 for tcx
}

export interface RingBuffer {
  // Stops watching and frees the consumer. The map fd stays owned by the caller.
  close(): void;
  // Like a Node handle: unref() lets the process exit while it is open.
  ref(): void;
  unref(): void;
}

export interface NetlinkSocket {
  readonly fd: number;
  readonly portId: number;
  // Sends one or more complete netlink messages (nlmsghdr included) to the kernel.
  send(msg: Buffer): void;
  addMembership(group: number): void;
  dropMembership(group: number): void;
  setsockoptInt(level: number, optname: number, value: number): void;
  close(): void;
  // Like a Node handle: unref() lets the process exit while it is open.
  ref(): void;
  unref(): void;
}

export interface NetlinkSocketOptions {
  protocol: number; // NETLINK_ROUTE = 0, NETLINK_NETFILTER = 12, ...
  netns?: string; // name under /var/run/netns, or absent for the caller's netns
  groups?: number[]; // RTNLGRP_* numbers joined with NETLINK_ADD_MEMBERSHIP
  rcvbuf?: number; // SO_RCVBUFFORCE bytes (falls back to SO_RCVBUF)
  // One call per batch read from the socket (all datagrams available now).
  // Each Buffer holds one datagram, which may contain several nlmsghdr messages.
  onMessages: (datagrams: Buffer[]) => void;
  // ENOBUFS: the kernel dropped messages. The socket stays usable; the owner re-dumps.
  onOverflow: () => void;
  onError?: (err: NativeError) => void;
}

export interface NativeAddon {
  // --- objects and programs
  openObject(path: string): BpfObject;
  progInfo(fd: number): ProgramInfo;
  mapInfo(fd: number): MapInfo;
  progFdById(id: number): number;
  mapFdById(id: number): number;
  linkFdById(id: number): number;
  linkInfo(fd: number): LinkInfo;
  closeFd(fd: number): void; // BPF fds only (map/prog/link/btf): refuses others with EINVAL
  dupFd(fd: number): number;
  numPossibleCpus(): number;

  // --- maps (keys and values are raw Buffers of the map's sizes)
  mapLookup(fd: number, key: Buffer): Buffer | null; // per-CPU maps: all CPUs' values, each rounded up to 8 bytes
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number): void; // BPF_ANY=0, BPF_NOEXIST=1, BPF_EXIST=2
  mapDelete(fd: number, key: Buffer): boolean; // false when the key was absent
  mapNextKey(fd: number, key: Buffer | null): Buffer | null; // null at the end
  // Whole-map dump with BPF_MAP_LOOKUP_BATCH (falls back to iteration). Per-CPU values as in mapLookup.
  mapDump(fd: number): Array<{ key: Buffer; value: Buffer }>;
  mapUpdateBatch(fd: number, keys: Buffer[], values: Buffer[]): void;
  mapDeleteBatch(fd: number, keys: Buffer[]): number; // how many were deleted
  progArraySet(mapFd: number, index: number, progFd: number): void;
  progArrayClear(mapFd: number, index: number): void;
  devmapSet(mapFd: number, key: number, ifindex: number): void;
  // Creates a map outside any object (e.g. a fresh PROG_ARRAY per generation).
  mapCreate(type: number, keySize: number, valueSize: number, maxEntries: number, name: string): number;

  // --- bpffs
  pin(fd: number, path: string): void;
  unpin(path: string): void; // ENOENT is not an error
  objGet(path: string): number; // fd of a pinned object

  // --- XDP
  xdpLinkCreate(progFd: number, ifindex: number, flags: number): number; // bpf_link fd; flags: XDP_FLAGS_SKB_MODE=2, DRV_MODE=4
  linkUpdate(linkFd: number, newProgFd: number, oldProgFd?: number): void; // atomic; with oldProgFd: BPF_F_REPLACE
  linkDetach(linkFd: number): void; // BPF_LINK_DETACH; the fd stays open: closeFd it
  // Netlink attach fallback. With expectedProgFd: XDP_FLAGS_REPLACE semantics.
  xdpAttach(ifindex: number, progFd: number, flags: number, expectedProgFd?: number): void;
  xdpDetach(ifindex: number, flags: number, expectedProgFd?: number): void;
  xdpQuery(ifindex: number): XdpQuery;

  // --- tc egress
  // tcx when available, clsact otherwise; mode forces one (default 'auto').
  tcAttachEgress(ifindex: number, progFd: number, mode?: 'auto' | 'tcx' | 'clsact'): TcAttachment;
  tcDetach(att: TcAttachment): void;

  // --- ring buffer: fd watched by uv_poll on the event loop
  ringBufferOpen(mapFd: number, onRecord: (record: Buffer) => void): RingBuffer;

  // --- BPF_PROG_TEST_RUN
  testRun(progFd: number, opts: TestRunOptions): TestRunResult; // synchronous
  testRunAsync(progFd: number, opts: TestRunOptions): Promise<TestRunResult>; // on a worker thread

  // --- network namespaces
  // Runs fn with the calling (main) thread inside /var/run/netns/<name>, then restores.
  // Sockets and bpf links created inside stay bound to that namespace.
  inNetns<T>(name: string, fn: () => T): T;
  // Moves the main thread into the namespace for good (the daemon's --netns).
  enterNetns(name: string): void;
  currentNetnsInode(): number;
  ifNameToIndex(name: string): number; // 0 when absent, in the calling thread's netns
  ethtoolDriver(ifname: string): { driver: string; busInfo: string }; // ETHTOOL_GDRVINFO

  // --- netlink
  netlinkOpen(opts: NetlinkSocketOptions): NetlinkSocket;

  // --- capability probes
  probeMapType(type: number): boolean; // libbpf_probe_bpf_map_type
  probeHelper(progType: number, helperId: number): boolean; // libbpf_probe_bpf_helper

  // --- systemd
  sdNotify(state: string): boolean; // false when NOTIFY_SOCKET is unset
}

#!/usr/bin/env bash
# Builds everything: BPF objects, the native addon, the TypeScript. Each part is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[build] %s\n' "$*" >&2; }

log "BPF objects"
make -s -C bpf -j2

# node-gyp would try to download headers; Debian's nodejs ships them under /usr/include/node.
GYP_ARGS=()
if [ -f /usr/include/node/node_api.h ]; then GYP_ARGS+=(--nodedir=/usr); fi
ADDON=native/build/Release/slipstream.node
if [ ! -f "$ADDON" ] || [ -n "$(find native/src native/binding.gyp -newer "$ADDON" 2>/dev/null | head -1)" ]; then
  log "native addon"
  (cd native && ../node_modules/.bin/node-gyp rebuild "${GYP_ARGS[@]}" --loglevel=warn >/dev/null)
fi

log "TypeScript"
node_modules/.bin/tsc -p tsconfig.json

log "schema validators"
node scripts/gen-validators.js

#!/usr/bin/env bash
# One-shot, idempotent set-up used by `npm test`, `npm run demo` and `npm run bench`.
# Each step checks whether it is already done, so repeat runs cost a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "slipstream's tests, demo and benchmarks create network namespaces and load BPF: run as root"
    exit 1
  fi
}

# Debian packages the build, the tests, the demo and the benchmarks use.
APT_PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev gcc-multilib pkg-config make g++ python3
  iproute2 ethtool iputils-ping bridge-utils iperf3 tcpdump tshark nftables iptables util-linux procps
  systemd)

apt_missing() {
  local missing=()
  for p in "${APT_PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$p")
    fi
  done
  echo "${missing[@]:-}"
}

install_packages() {
  local missing
  missing="$(apt_missing)"
  if [ -z "${missing// /}" ]; then return; fi
  log "installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

mount_bpffs() {
  if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
    log "mounting bpffs on /sys/fs/bpf"
    mount -t bpf bpf /sys/fs/bpf
  fi
}

npm_deps() {
  # Re-run npm ci when the lockfile changed since the last install.
  local stamp=node_modules/.slipstream-lock
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then return; fi
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
}

need_root
install_packages
mount_bpffs
npm_deps
bash scripts/build.sh

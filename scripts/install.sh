#!/usr/bin/env bash
# Installs slipstream from this (built) checkout: the runtime files and production node_modules
# in $PREFIX/lib/slipstream (or, with --link, nothing: the wrapper runs this checkout), a wrapper
# in $PREFIX/bin, the systemd unit, the default config (an existing one is never overwritten)
# and the operations guide.
#   scripts/install.sh [--prefix /usr/local] [--destdir DIR] [--link] [--no-systemctl] [--uninstall]
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)
PREFIX=/usr/local
DESTDIR=
SYSTEMCTL=1
UNINSTALL=0
LINK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --destdir) DESTDIR=$2; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    --no-systemctl) SYSTEMCTL=0; shift ;;
    --link) LINK=1; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
log() { printf '[install] %s\n' "$*" >&2; }

BIN=$DESTDIR$PREFIX/bin/slipstream
UNIT=$DESTDIR/etc/systemd/system/slipstream.service
CONFDIR=$DESTDIR/etc/slipstream
DOCDIR=$DESTDIR$PREFIX/share/doc/slipstream
LIBDIR=$PREFIX/lib/slipstream
have_systemd() { [ "$SYSTEMCTL" = 1 ] && [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

if [ "$UNINSTALL" = 1 ]; then
  if have_systemd; then systemctl disable --now slipstream.service 2>/dev/null || true; fi
  rm -f "$BIN" "$UNIT"
  rm -rf "$DOCDIR" "$DESTDIR$LIBDIR"
  if have_systemd; then systemctl daemon-reload; fi
  log "removed the wrapper, unit and docs; $CONFDIR is left in place"
  exit 0
fi

if [ ! -f "$REPO/dist/controller/cli/main.js" ]; then
  echo "install.sh: not built yet; run 'npm run build' first" >&2
  exit 1
fi
NODE=$(command -v node || true)
if [ -z "$NODE" ]; then echo "install.sh: node is not on PATH" >&2; exit 1; fi

install -d -m 0755 "$(dirname "$BIN")" "$(dirname "$UNIT")" "$DOCDIR"
install -d -m 0755 "$CONFDIR"

if [ "$LINK" = 1 ]; then
  APP=$REPO
  case "$REPO" in
    /home/*|/root/*) log "warning: $REPO is under /home or /root, which the unit's ProtectHome=yes hides; install without --link" ;;
  esac
else
  APP=$LIBDIR
  T=$DESTDIR$LIBDIR
  log "copying the runtime into $T"
  rm -rf "$T.new"
  install -d -m 0755 "$T.new"
  for p in package.json bin dist config fpm-library bpf/include build/bpf native/build/Release; do
    [ -e "$p" ] || continue
    mkdir -p "$T.new/$(dirname "$p")"
    cp -a "$p" "$T.new/$p"
  done
  rm -rf "$T.new/dist/test" "$T.new/native/build/Release/obj.target" "$T.new/native/build/Release/.deps"
  # Production dependencies only, as npm resolved them here (no network needed).
  npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
    rel=${dir#"$REPO"/}
    case "$rel" in node_modules/*) ;; *) continue ;; esac
    mkdir -p "$T.new/$(dirname "$rel")"
    [ -e "$T.new/$rel" ] || cp -a "$dir" "$T.new/$rel"
  done
  rm -rf "$T"
  mv "$T.new" "$T"
fi

tmp=$(mktemp)
cat >"$tmp" <<WRAP
#!/bin/sh
# slipstream wrapper installed by scripts/install.sh
exec "$NODE" "$APP/bin/slipstream" "\$@"
WRAP
install -m 0755 "$tmp" "$BIN"
rm -f "$tmp"
log "wrapper: $BIN -> $APP"

sed "s#/usr/local/bin/slipstream#$PREFIX/bin/slipstream#g; s#/usr/local/share/doc/slipstream#$PREFIX/share/doc/slipstream#g" \
  systemd/slipstream.service >"$UNIT.tmp"
chmod 0644 "$UNIT.tmp"
mv "$UNIT.tmp" "$UNIT"
log "unit: $UNIT"

if [ -e "$CONFDIR/config.yaml" ]; then
  log "config: keeping the existing $CONFDIR/config.yaml"
else
  install -m 0644 config/default.yaml "$CONFDIR/config.yaml"
  log "config: $CONFDIR/config.yaml"
fi
install -m 0644 docs/operations.md "$DOCDIR/operations.md"

if have_systemd; then
  systemctl daemon-reload
  log "now: systemctl enable --now slipstream"
else
  log "systemd not reloaded (no running systemd, --destdir or --no-systemctl)"
fi

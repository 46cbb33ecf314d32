#!/usr/bin/env bash
# The whole suite: unit tests on fixtures, then integration tests against the real kernel.
# Files that compare timings with independent tools run alone afterwards, so two test files
# sharing two cores do not skew what they measure.
set -euo pipefail
cd "$(dirname "$0")/.."
# Leftovers from a killed earlier run would only confuse the new one.
node dist/test/lab/sweep.js || true

TAP=(node_modules/.bin/tap --disable-coverage --timeout=600 --reporter=terse)
SERIAL_RE='/(epping-live|swap-failopen|daemon-notify)\.test\.js$'
mapfile -t ALL < <(find dist/test/unit dist/test/native dist/test/integration -name '*.test.js' | sort)
PARALLEL=()
SERIAL=()
for f in "${ALL[@]}"; do
  if [[ "$f" =~ $SERIAL_RE ]]; then SERIAL+=("$f"); else PARALLEL+=("$f"); fi
done

status=0
"${TAP[@]}" --jobs=2 "$@" "${PARALLEL[@]}" || status=1
"${TAP[@]}" --jobs=1 "$@" "${SERIAL[@]}" || status=1
exit $status

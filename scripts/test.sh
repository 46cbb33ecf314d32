#!/usr/bin/env bash
# The whole suite: unit tests on fixtures, then integration tests against the real kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
# Leftovers from a killed earlier run would only confuse the new one.
node dist/test/lab/sweep.js || true
exec node_modules/.bin/tap --disable-coverage --timeout=600 --jobs=2 --reporter=terse "$@" \
  'dist/test/unit/**/*.test.js' 'dist/test/native/**/*.test.js' 'dist/test/integration/**/*.test.js'

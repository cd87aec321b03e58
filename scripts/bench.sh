#!/usr/bin/env bash
# The ingest benchmark (see BENCHMARKS.md). Starts the services, builds the service, runs
#   tests/bench/ingest-bench.mjs  with RATE (events/s, default 30000) and DURATION (seconds, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh start >/dev/null
[ -d node_modules ] || bash scripts/npm-install.sh
npm run build -w backend >/dev/null
node tests/bench/ingest-bench.mjs --rate "${RATE:-30000}" --seconds "${DURATION:-60}" "$@"

#!/usr/bin/env bash
# Installs the npm packages if needed, builds the service and runs it. Storage is embedded
# (PGlite in ./data) unless DATABASE_URL is set. Every Z4J_* variable passes through.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  bash scripts/npm-install.sh
fi
npm run build -w backend >/dev/null
# A 32 MB young generation (V8's default is 16): fewer minor collections, 2–3 µs less CPU
# per event at 30,000 events/s (BENCHMARKS.md, Celery ingest, sessions 9 and 10). The image
# and `npm start -w backend` run it the same way.
exec node --max-semi-space-size=32 backend/dist/main.js

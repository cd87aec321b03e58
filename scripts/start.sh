#!/usr/bin/env bash
# Installs the npm packages if needed, builds the service and runs it. Storage is embedded
# (PGlite in ./data) unless DATABASE_URL is set. Every Z4J_* variable passes through.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  bash scripts/npm-install.sh
fi
npm run build -w backend >/dev/null
exec node backend/dist/main.js

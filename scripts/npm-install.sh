#!/usr/bin/env bash
# Installs the npm workspaces exactly as locked (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund

#!/usr/bin/env bash
# Installs the npm workspaces exactly as locked (npm ci).
#
# The lockfile is written where the registry has only the Linux builds of some native packages
# (@swc/core, unrs-resolver), so it lists their Linux builds only. npm ci accepts that as long
# as those packages are dependencies of a workspace (backend/, plugin/) and never of the root
# package.json: npm 11 re-resolves the missing optional dependencies of what it reaches from the
# root, but not through workspace links. If that ever breaks, npm ci says
# "Missing: <name>@ from lock file" (empty version); this script then says what to do.
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
npm ci --no-audit --no-fund 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ] && grep -qE 'Missing: [^ ]+@ from lock file' "$log"; then
  echo "npm-install: npm ci wants platform builds this registry does not have (lines above with" >&2
  echo "npm-install: an empty version). Keep packages with native builds (@swc/core, jest...) out of" >&2
  echo "npm-install: the root package.json, in backend/ or plugin/, then run 'npm install' once." >&2
fi
exit "$status"

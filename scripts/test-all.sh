#!/usr/bin/env bash
# Sets up everything the tests need and runs them all: system services (PostgreSQL, Redis,
# RabbitMQ), one Python venv per engine, npm packages, the build, Jest (service and plugin)
# and pytest. Ends with one line: "N passed, N failed[, N skipped]". Safe to re-run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RESULTS=$ROOT/test-results
rm -rf "$RESULTS" && mkdir -p "$RESULTS"
export CI=${CI:-true}

step() { printf '\n==> %s\n' "$*"; }
die() { echo "test-all: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

step "system packages";   bash scripts/setup-system.sh || die "installing system packages failed"
step "services";          bash scripts/services.sh start || die "starting services failed (logs in .data/logs)"
step "python engines";    bash scripts/setup-python.sh || die "creating the engine virtualenvs failed"
step "npm packages";      bash scripts/npm-install.sh || die "npm install failed"
step "build";             npm run build --workspaces --if-present && npm run build:test-host -w plugin || die "the build failed"

status=0
step "service tests (Jest)"
(cd backend && NODE_OPTIONS=--experimental-vm-modules npx jest --ci --maxWorkers=2 \
  --json --outputFile="$RESULTS/backend-jest.json") || status=1

if [ -f plugin/package.json ]; then
  step "plugin tests (Jest)"
  (cd plugin && npx jest --ci --maxWorkers=2 --json --outputFile="$RESULTS/plugin-jest.json") || status=1
fi

step "Python tests (pytest)"
py_tests=$(find agent tests -name 'test_*.py' -not -path '*/node_modules/*' 2>/dev/null | head -n 1)
if [ -n "$py_tests" ]; then
  .venvs/celery/bin/python -m pytest -q --junitxml="$RESULTS/pytest.xml" agent tests || status=1
else
  echo "no Python tests in agent/ or tests/ yet"
fi

node scripts/summarize-tests.mjs "$RESULTS" || status=1
exit $status

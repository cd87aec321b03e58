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
bash scripts/services.sh drop-test-dbs || echo "test-all: could not drop earlier test databases (carrying on)"
step "python engines";    bash scripts/setup-python.sh || die "creating the engine virtualenvs failed"
engines=(celery rq dramatiq huey arq taskiq)
step "python engines at the agent's floor"
bash scripts/setup-python.sh "${engines[@]/#/floor/}" || die "creating the floor virtualenvs failed"
step "python engines between the floor and the newest (requirements/mid)"
bash scripts/setup-python.sh "${engines[@]/#/mid/}" || die "creating the mid virtualenvs failed"
# The newest Python beside the oldest the agent supports (3.11, the venvs above): the newest engines
# on Python 3.13, in .venvs/py3.13.
NEWEST_PYTHON=py3.13
step "python engines on the newest Python ($NEWEST_PYTHON)"
bash scripts/setup-python.sh "${engines[@]/#/$NEWEST_PYTHON/}" || die "creating the $NEWEST_PYTHON virtualenvs failed"
step "npm packages";      bash scripts/npm-install.sh || die "npm install failed"
node scripts/drop-test-queues.mjs || echo "test-all: could not drop earlier test queues (carrying on)"
step "build";             npm run build --workspaces --if-present && npm run build:test-host -w plugin || die "the build failed"

status=0
step "service tests (Jest)"
# On the newest engines nothing may skip (Z4J_TEST_NO_SKIPS): the tests' skips are for the floor run.
(cd backend && Z4J_TEST_NO_SKIPS=1 NODE_OPTIONS=--experimental-vm-modules npx jest --ci --maxWorkers=2 \
  --json --outputFile="$RESULTS/backend-jest.json") || status=1

step "service tests at the agent's floor (each engine's oldest declared version, .venvs/floor)"
# The service's suites of each engine, with its workers and producers from the floor virtualenvs.
# Left out, because their test apps use what the floors lack (not the service): Huey's chords
# (agent.engines.huey and huey-workers, schedules.huey, actions.arq-taskiq-huey), taskiq-aio-pika's
# Queue (its RabbitMQ suites: z4j's actions follow taskiq-aio-pika 0.6's layout), and kombu 5.3.0
# on Sentinel, which runs no task, z4j or not (redisSentinel); Celery 5.3's gevent pool has no
# terminate_job, so z4j's terminate fails there, saying so (celery.pools).
floor_suites=(
  celery actions.celery schedules.celery celery.queues celery.serializers celery.transport-options celery.result-backend agent.celery-enqueue
  agent.engines.rq agent.engines.rq-pool schedules.rq actions.rq
  actions.dramatiq actions.dramatiq-rabbitmq actions.agent.dramatiq schedules.dramatiq schedules.dramatiq-rabbitmq
  agent.engines.dramatiq-redis agent.engines.dramatiq-rabbitmq agent.engines.dramatiq-workers
  actions.arq-purge actions.agent.arq agent.engines.arq schedules.arq
  agent.engines.taskiq-redis agent.engines.taskiq-workers schedules.taskiq actions.agent.taskiq
  actions.agent.huey
)
(cd backend && Z4J_TEST_VENVS="$ROOT/.venvs/floor" NODE_OPTIONS=--experimental-vm-modules npx jest --ci --maxWorkers=2 \
  --json --outputFile="$RESULTS/backend-jest-floor.json" $(printf "test/%s.integration.test.ts " "${floor_suites[@]}")) || status=1

# Every suite that runs the engines' own workers and producers (celery, rq worker, dramatiq,
# huey_consumer, arq, taskiq; through the agent where it is needed).
engine_suites=(
  celery celery.queues celery.transport-options celery.pools celery.serializers celery.result-backend celery.lost-worker agent.celery-enqueue actions.celery schedules.celery redisSentinel
  agent.engines.rq agent.engines.rq-pool actions.rq schedules.rq actions.bulk filteredPurge agent.resilience
  actions.dramatiq actions.dramatiq-rabbitmq actions.agent.dramatiq schedules.dramatiq schedules.dramatiq-rabbitmq
  agent.engines.dramatiq-redis agent.engines.dramatiq-rabbitmq agent.engines.dramatiq-workers
  agent.engines.huey agent.engines.huey-workers actions.agent.huey schedules.huey actions.arq-taskiq-huey
  actions.arq-purge actions.agent.arq agent.engines.arq schedules.arq
  agent.engines.taskiq-redis agent.engines.taskiq-rabbitmq agent.engines.taskiq-workers actions.agent.taskiq actions.taskiq-rabbitmq
  schedules.taskiq schedules.taskiq-rabbitmq
)
step "service tests on the newest Python (the newest engines in .venvs/$NEWEST_PYTHON)"
(cd backend && Z4J_TEST_NO_SKIPS=1 Z4J_TEST_VENVS="$ROOT/.venvs/$NEWEST_PYTHON" NODE_OPTIONS=--experimental-vm-modules \
  npx jest --ci --maxWorkers=2 --json --outputFile="$RESULTS/backend-jest-$NEWEST_PYTHON.json" \
  $(printf "test/%s.integration.test.ts " "${engine_suites[@]}")) || status=1

step "service tests between the floor and the newest (.venvs/mid)"
# The same suites with the engines' versions between the two (requirements/mid). A test of what
# only a newer engine has skips here (RQ 3's rate limits, kombu 5.7's sweep of bindings, Celery
# 5.7's threads pool: older ones lose its task events).
(cd backend && Z4J_TEST_VENVS="$ROOT/.venvs/mid" NODE_OPTIONS=--experimental-vm-modules \
  npx jest --ci --maxWorkers=2 --json --outputFile="$RESULTS/backend-jest-mid.json" \
  $(printf "test/%s.integration.test.ts " "${engine_suites[@]}")) || status=1

if [ -f plugin/package.json ]; then
  step "plugin tests (Jest)"
  (cd plugin && npx jest --ci --maxWorkers=2 --json --outputFile="$RESULTS/plugin-jest.json") || status=1
fi

step "Python tests (pytest)"
# The agent's core (and anything else in agent/ or tests/) in the celery venv; each engine's
# agent integration (agent/tests/unit/test_<engine>.py) in that engine's own venv.
engine_tests=(rq dramatiq huey arq taskiq)
ignore=()
for e in "${engine_tests[@]}"; do ignore+=(--ignore="agent/tests/unit/test_$e.py"); done
# Tests of a client only an engine's venv has, run there too: the command channel and the TLS
# connections on RabbitMQ with aio-pika (taskiq-aio-pika's client; the celery venv has pika).
declare -A also=([taskiq]="agent/tests/unit/test_commands_amqp.py agent/tests/unit/test_transport_tls.py")
# Each run starts on an empty test db (agent/tests/unit/conftest.py's): what an engine keeps
# db-wide (RQ's lists of queues, workers and groups) must not reach a run of another version. An
# RQ group left by the mid run made the floor RQ 2.1 worker quit (rq/rq#2269, session 43).
agent_redis_url=${Z4J_TEST_AGENT_REDIS_URL:-redis://127.0.0.1:6379/14}
empty_agent_db() {
  redis-cli -u "$agent_redis_url" flushdb >/dev/null || echo "test-all: could not empty $agent_redis_url (carrying on)"
}
# agent_pytest DIR NAME [pytest options]: those runs in the venvs DIR/<engine>, their results
# named pytest-NAME-<engine>.xml.
agent_pytest() {
  local dir=$1 name=$2 e
  shift 2
  empty_agent_db
  "$dir/celery/bin/python" -m pytest -q "$@" --junitxml="$RESULTS/pytest-$name-celery.xml" "${ignore[@]}" agent tests || status=1
  for e in "${engine_tests[@]}"; do
    empty_agent_db
    # shellcheck disable=SC2086 # also[e] is a list of paths
    "$dir/$e/bin/python" -m pytest -q "$@" --junitxml="$RESULTS/pytest-$name-$e.xml" "agent/tests/unit/test_$e.py" ${also[$e]:-} || status=1
  done
}
py_tests=$(find agent tests -name 'test_*.py' -not -path '*/node_modules/*' 2>/dev/null | head -n 1)
if [ -n "$py_tests" ]; then
  # On the newest engines nothing may skip; the older ones skip the tests of what they lack (-rs: say which).
  Z4J_TEST_NO_SKIPS=1 agent_pytest .venvs newest
  step "Python tests on the newest Python ($NEWEST_PYTHON, the newest engines)"
  Z4J_TEST_NO_SKIPS=1 agent_pytest ".venvs/$NEWEST_PYTHON" "$NEWEST_PYTHON"
  step "Python tests between the floor and the newest (.venvs/mid)"
  agent_pytest .venvs/mid mid -rs
  step "Python tests at the agent's floor (the oldest engine versions agent/pyproject.toml declares)"
  agent_pytest .venvs/floor floor -rs
else
  echo "no Python tests in agent/ or tests/ yet"
fi

node scripts/summarize-tests.mjs "$RESULTS" || status=1
exit $status

#!/usr/bin/env bash
# Creates one virtualenv per engine in .venvs/<engine> with its pinned requirements
# (requirements/<engine>.txt + common.txt) and the agent when it exists. Fast when nothing
# changed: each venv remembers the hash of what it was built from.
#   bash scripts/setup-python.sh [engine ...]     (default: all six)
# `floor/<engine>` makes .venvs/floor/<engine> from requirements/floor/<engine>.txt: the oldest
# versions the agent declares.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(celery rq dramatiq huey arq taskiq)
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'

for engine in "${engines[@]}"; do
  req=requirements/$engine.txt
  [ -f "$req" ] || { echo "setup-python: no $req" >&2; exit 2; }
  venv=.venvs/$engine
  want=$(cat "$req" requirements/common.txt $(ls agent/pyproject.toml 2>/dev/null) | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$venv/.z4j-requirements" 2>/dev/null)" = "$want" ]; then
    echo "setup-python: $venv is up to date"
    continue
  fi
  [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
  "$venv/bin/pip" install -q -r "$req" -r requirements/common.txt
  if [ -f agent/pyproject.toml ]; then "$venv/bin/pip" install -q -e "./agent[${engine##*/}]"; fi
  echo "$want" > "$venv/.z4j-requirements"
  echo "setup-python: $venv ready"
done

#!/usr/bin/env bash
# Creates one virtualenv per engine in .venvs/<engine> with its pinned requirements
# (requirements/<engine>.txt + common.txt) and the agent when it exists. Fast when nothing
# changed: each venv remembers the hash of what it was built from.
#   bash scripts/setup-python.sh [engine ...]     (default: all six)
# `floor/<engine>` makes .venvs/floor/<engine> from requirements/floor/<engine>.txt: the oldest
# versions the agent declares; `mid/<engine>` likewise from requirements/mid (versions between
# those and the newest). `py3.13/<engine>` makes .venvs/py3.13/<engine> from
# requirements/<engine>.txt on Python 3.13 (found on PATH, or among pyenv's versions).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
engines=("$@")
[ ${#engines[@]} -gt 0 ] || engines=(celery rq dramatiq huey arq taskiq)
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'

# The interpreter for `py3.X/...`: python3.X on PATH if it runs (a pyenv shim may not), else
# pyenv's newest 3.X.
python_for() {
  local version=$1 candidate
  for candidate in "$(command -v "python$version")" \
      "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".* 2>/dev/null | sort -V | tail -1)/bin/python$version"; do
    if [ -x "$candidate" ] && "$candidate" -c '' 2>/dev/null; then echo "$candidate"; return; fi
  done
  echo "setup-python: no Python $version (neither python$version on PATH nor a pyenv version $version.x)" >&2
  exit 2
}

for engine in "${engines[@]}"; do
  interpreter=$PY
  case $engine in
    py3.*/*) version=${engine%%/*}; interpreter=$(python_for "${version#py}"); req=requirements/${engine#*/}.txt ;;
    *) req=requirements/$engine.txt ;;
  esac
  [ -f "$req" ] || { echo "setup-python: no $req" >&2; exit 2; }
  venv=.venvs/$engine
  want=$(cat "$req" requirements/common.txt $(ls agent/pyproject.toml 2>/dev/null) | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$venv/.z4j-requirements" 2>/dev/null)" = "$want" ]; then
    echo "setup-python: $venv is up to date"
    continue
  fi
  [ -x "$venv/bin/python" ] || "$interpreter" -m venv "$venv"
  "$venv/bin/pip" install -q -r "$req" -r requirements/common.txt
  if [ -f agent/pyproject.toml ]; then "$venv/bin/pip" install -q -e "./agent[${engine##*/}]"; fi
  echo "$want" > "$venv/.z4j-requirements"
  echo "setup-python: $venv ready"
done

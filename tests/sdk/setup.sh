#!/usr/bin/env bash
# Installs what the SDK suites need: the npm packages of tests/sdk/js (exact
# versions from its package-lock.json) and a virtualenv at
# tests/sdk/python/.venv with tests/sdk/python/requirements.txt.
# Installs node/npm and python3-venv with apt-get when missing. Run by
# .ci/run; run it by hand before `cargo test` to have the SDK suites run
# instead of being skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# A fresh Debian machine may lack Node or Python's venv: install them.
apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "sdk setup: apt-get install $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@"
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt_install nodejs npm
fi
if ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi

echo "sdk setup: npm ci in tests/sdk/js"
(cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)

echo "sdk setup: virtualenv tests/sdk/python/.venv"
if [ ! -x "$here/python/.venv/bin/python" ]; then
  if ! python3 -m venv "$here/python/.venv"; then
    # Debian ships venv's ensurepip separately.
    rm -rf "$here/python/.venv"
    apt_install python3-venv
    python3 -m venv "$here/python/.venv"
  fi
fi
"$here/python/.venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/python/requirements.txt"
echo "sdk setup: done"

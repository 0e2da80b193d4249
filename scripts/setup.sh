#!/usr/bin/env bash
# Idempotent set-up shared by `make run` and `make test`: venv, pinned packages, bun from
# the npm registry (Reflex's own bun download needs hosts that may be unreachable), and —
# for tests, when root — Debian's chromium and redis-server. Re-runs skip whatever is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
want_browser="${1:-}"
PY="${PYTHON:-python3}"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
  step "Creating .venv"
  "$PY" -m venv .venv
fi

stamp=.venv/.requirements.sha
sum=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  step "Installing pinned Python packages (first run takes a minute)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$sum" > "$stamp"
fi

case "$(uname -m)" in
  x86_64|amd64) bun_pkg="@oven/bun-linux-x64" ;;
  aarch64|arm64) bun_pkg="@oven/bun-linux-aarch64" ;;
  *) echo "unsupported CPU $(uname -m) for bun" >&2; exit 1 ;;
esac
bun_version=$(.venv/bin/python -c "from reflex_base.constants.installer import Bun; print(Bun.VERSION)")
bun_bin=".tools/bun/node_modules/$bun_pkg/bin/bun"
if [ ! -x "$bun_bin" ] || [ "$("$bun_bin" --version 2>/dev/null)" != "$bun_version" ]; then
  step "Installing bun $bun_version from the npm registry"
  mkdir -p .tools/bun
  echo '{"private": true}' > .tools/bun/package.json
  (cd .tools/bun && npm install --silent --ignore-scripts --no-audit --no-fund "$bun_pkg@$bun_version")
fi

if [ "$want_browser" = "--browser" ] && [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = "0" ]; then
    step "Installing Debian's redis-server (the browser tests run two workers sharing state)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is missing and we are not root: browser tests will fail" >&2
  fi
fi

if [ "$want_browser" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = "0" ]; then
    step "Installing Debian's chromium for browser tests"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "chromium is missing and we are not root: browser tests will be skipped" >&2
  fi
fi

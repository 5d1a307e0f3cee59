#!/usr/bin/env bash
# Headless Chromium for the offline report tests (tests/pipelines/reports/): Debian's package.
# Idempotent: does nothing when /usr/bin/chromium exists. Never fails the caller: where it
# cannot be installed (no root, no apt, no network) it prints why, and the tests skip with it.
set -u
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "infra/chromium.sh: no apt-get here; the report browser tests will skip" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "infra/chromium.sh: not root and no passwordless sudo; cannot install chromium," \
      "the report browser tests will skip" >&2
    exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
  if ! $SUDO apt-get install -y --no-install-recommends chromium >/dev/null; then
    echo "infra/chromium.sh: apt-get install chromium failed; the report browser tests will" \
      "skip" >&2
    exit 0
  fi
fi
echo "infra/chromium.sh: installed $($CHROMIUM --version 2>/dev/null)"

#!/bin/sh
# Installs what the browser tests (test/browser/) need: Debian's chromium and playwright-core.
# `npx playwright install` cannot download browsers on this network; playwright-core drives the
# system chromium instead (DESIGN.md, "Browser tests"). Idempotent; installing needs root (or password-less sudo).
set -eu

CHROMIUM="${BEAMHUB_CHROMIUM:-/usr/bin/chromium}"
PLAYWRIGHT_VERSION="1.65.1"

# With its recommended packages (fonts among them), unlike the other installs.
CHROMIUM=$(BEAMHUB_APT_RECOMMENDS=1 "$(dirname "$0")/install-debian-package.sh" "$CHROMIUM" chromium)
echo "chromium: $("$CHROMIUM" --version 2>/dev/null || echo present) at $CHROMIUM"

cd "$(dirname "$0")/.."
if [ -f node_modules/playwright-core/package.json ]; then
  echo "playwright-core: $(node -p 'require("./node_modules/playwright-core/package.json").version')"
elif grep -q '"playwright-core"' package.json; then
  echo "playwright-core: in package.json but not installed; run npm ci"
  exit 1
else
  echo "playwright-core: not a devDependency yet; installing $PLAYWRIGHT_VERSION without saving"
  npm install --no-save --ignore-scripts -E "playwright-core@$PLAYWRIGHT_VERSION"
fi

#!/usr/bin/env bash
# Installs tinyproxy (a forward HTTP proxy) from Debian packages when it is missing (used by the
# forward-proxy and federation tests).
# Prints the path of the tinyproxy binary on success; exits 3 (with a reason on stderr) when it
# cannot be installed here.
set -euo pipefail

find_tinyproxy() {
  if command -v tinyproxy >/dev/null 2>&1; then command -v tinyproxy; return 0; fi
  if [[ -x /usr/sbin/tinyproxy ]]; then echo /usr/sbin/tinyproxy; return 0; fi
  return 1
}

if find_tinyproxy; then exit 0; fi
if ! command -v apt-get >/dev/null; then echo "install-tinyproxy.sh: tinyproxy is missing and apt-get is not available" >&2; exit 3; fi
if [[ $(id -u) -ne 0 ]]; then echo "install-tinyproxy.sh: tinyproxy is missing; installing it needs root" >&2; exit 3; fi
echo "install-tinyproxy.sh: installing tinyproxy from Debian packages..." >&2
export DEBIAN_FRONTEND=noninteractive
# Only the binary is needed: do not let the package start the system service.
if ! { apt-get update >&2 && apt-get install -y --no-install-recommends tinyproxy >&2; }; then
  echo "install-tinyproxy.sh: apt-get install tinyproxy failed" >&2
  exit 3
fi
find_tinyproxy || { echo "install-tinyproxy.sh: tinyproxy installed but not found on PATH" >&2; exit 3; }

#!/usr/bin/env bash
# Installs nginx from Debian packages when it is missing (used by test/http2/nginx.test.ts).
# Prints the path of the nginx binary on success; exits 3 (with a reason on stderr) when it
# cannot be installed here.
set -euo pipefail

find_nginx() {
  if command -v nginx >/dev/null 2>&1; then command -v nginx; return 0; fi
  if [[ -x /usr/sbin/nginx ]]; then echo /usr/sbin/nginx; return 0; fi
  return 1
}

if find_nginx; then exit 0; fi
if ! command -v apt-get >/dev/null; then echo "install-nginx.sh: nginx is missing and apt-get is not available" >&2; exit 3; fi
if [[ $(id -u) -ne 0 ]]; then echo "install-nginx.sh: nginx is missing; installing it needs root" >&2; exit 3; fi
echo "install-nginx.sh: installing nginx from Debian packages..." >&2
export DEBIAN_FRONTEND=noninteractive
# Only the binary is needed: do not let the package start the system service.
if ! { apt-get update >&2 && apt-get install -y --no-install-recommends nginx >&2; }; then
  echo "install-nginx.sh: apt-get install nginx failed" >&2
  exit 3
fi
find_nginx || { echo "install-nginx.sh: nginx installed but not found on PATH" >&2; exit 3; }

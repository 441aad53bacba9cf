#!/usr/bin/env bash
# Installs nginx from Debian packages when it is missing (used by test/http2/nginx.test.ts).
# Prints the path of the nginx binary on success; exits 3 (with a reason on stderr) when it
# cannot be installed here.
exec "$(dirname "$0")/install-debian-package.sh" nginx nginx

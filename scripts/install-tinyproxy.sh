#!/usr/bin/env bash
# Installs tinyproxy (a forward HTTP proxy) from Debian packages when it is missing (used by the
# forward-proxy and federation tests).
# Prints the path of the tinyproxy binary on success; exits 3 (with a reason on stderr) when it
# cannot be installed here.
exec "$(dirname "$0")/install-debian-package.sh" tinyproxy tinyproxy

#!/usr/bin/env bash
# Installs nats-server (the NATS message broker the cluster tests and benches run) from Debian
# packages when it is missing. Prints the binary's path; exits 3 with a reason when it cannot.
exec "$(dirname "$0")/install-debian-package.sh" nats-server nats-server

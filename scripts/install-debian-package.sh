#!/usr/bin/env bash
# Installs a Debian package when the program a test or bench needs is missing.
#
#   scripts/install-debian-package.sh <command> <package> [more packages...]
#
# <command> is a program name (looked up on PATH, then in /usr/sbin and /sbin, which a non-root
# PATH often lacks) or an absolute path, which may be a glob for versioned directories
# ('/usr/lib/postgresql/*/bin/initdb'; quote it). When it is there, prints its path and exits 0 without
# touching apt. Otherwise runs `apt-get update` and `apt-get install` non-interactively and
# quietly (apt's own output goes to stderr), then prints the path. Exits 3 with a one-line reason
# on stderr when the program cannot be had here (no apt-get, not root and no password-less
# sudo, apt failed, installed but still not found); exits 2 on bad usage.
#
# Only the program is wanted: --no-install-recommends keeps the install small unless
# BEAMHUB_APT_RECOMMENDS=1 (chromium wants its recommended fonts).
set -euo pipefail

me="install-debian-package.sh"
if [[ $# -lt 2 || -z "$1" || -z "$2" ]]; then
  echo "usage: $me <command> <package> [more packages...]" >&2
  exit 2
fi
command_name=$1
shift

find_command() {
  local candidate
  if [[ $command_name == */* ]]; then
    # Unquoted on purpose: expands a glob; a pattern that matches nothing stays as it is and
    # fails the -x test.
    for candidate in $command_name; do
      [[ -x $candidate ]] && { echo "$candidate"; return 0; }
    done
    return 1
  fi
  if command -v "$command_name" >/dev/null 2>&1; then command -v "$command_name"; return 0; fi
  for candidate in /usr/sbin /sbin /usr/local/sbin; do
    [[ -x "$candidate/$command_name" ]] && { echo "$candidate/$command_name"; return 0; }
  done
  return 1
}

fail() {
  echo "$me: $command_name is missing and $*" >&2
  exit 3
}

if find_command; then exit 0; fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available (install the package $* by hand)"
as_root=()
if [[ $(id -u) -ne 0 ]]; then
  # Never prompt: a test run has nobody to type a password.
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    fail "installing the package $* needs root (or password-less sudo)"
  fi
fi

recommends=(--no-install-recommends)
[[ ${BEAMHUB_APT_RECOMMENDS:-0} == 1 ]] && recommends=()

echo "$me: installing $* from Debian packages for $command_name..." >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq update >&2 \
  || fail "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y "${recommends[@]}" \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$@" >&2 \
  || fail "apt-get install $* failed"
find_command || fail "still not found after installing $*"

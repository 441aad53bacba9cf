#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests and benchmarks.
#
#   scripts/postgres.sh start   installs PostgreSQL from Debian packages if it is missing, starts
#                               a cluster in a new temp dir on a free loopback port (trust auth)
#                               and prints one line: `host port dbname user dir`
#   scripts/postgres.sh stop DIR   stops that cluster and removes DIR
#
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` system user
# (created if missing).
set -euo pipefail

find_bindir() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then echo "$dir"; return 0; fi
  done
  return 1
}

install_postgres() {
  # initdb, pg_ctl, postgres and pgbench all come with the versioned server package.
  "$(dirname "$0")/install-debian-package.sh" '/usr/lib/postgresql/*/bin/pgbench' postgresql postgresql-contrib >/dev/null
}

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local bindir
  bindir=$(find_bindir) || { install_postgres; bindir=$(find_bindir) || { echo "postgres.sh: initdb not found after install" >&2; exit 3; }; }
  command -v pgbench >/dev/null || [[ -x "$bindir/pgbench" ]] || install_postgres
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  local dir port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/beamhub-pg-XXXXXX")
  chmod 755 "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -rf "$dir"; exit 4; }
  for _ in 1 2 3; do
    port=$(free_port)
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null; then
      echo "127.0.0.1 $port postgres postgres $dir"
      return 0
    fi
  done
  cat "$dir/server.log" >&2
  rm -rf "$dir"
  exit 5
}

stop() {
  local dir=${1:?usage: postgres.sh stop DIR}
  [[ -d "$dir" && "$dir" == */beamhub-pg-* ]] || { echo "postgres.sh: $dir is not a cluster of ours" >&2; exit 2; }
  local bindir
  bindir=$(find_bindir) || true
  if [[ -n "$bindir" && -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster for the test suites and prints the server URL that
# CREDITRISK_TEST_POSTGRES takes. Usage: `.ci/postgres.sh start DIR` / `.ci/postgres.sh stop DIR`.
# The cluster runs as an unprivileged user (PostgreSQL refuses root), on a free loopback port,
# with fsync on (the tests' durability claims hold only then), password authentication on.
set -euo pipefail
cmd=$1
dir=$2
bin=/usr/lib/postgresql/15/bin

as_user() {
  if [ "$(id -u)" -eq 0 ]; then
    su -s /bin/bash "$PGUSER_OS" -c "$*"
  else
    bash -c "$*"
  fi
}

PGUSER_OS=postgres
case "$cmd" in
  start)
    if [ ! -x "$bin/initdb" ]; then
      echo "== PostgreSQL 15 server binaries missing: installing" >&2
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    if [ "$(id -u)" -eq 0 ] && ! id "$PGUSER_OS" >/dev/null 2>&1; then
      useradd --system --no-create-home "$PGUSER_OS"
    fi
    mkdir -p "$dir"
    password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    echo "$password" >"$dir/pw"
    chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown -R "$PGUSER_OS" "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_user "$bin/initdb -D '$dir/data' -U postgres --auth=scram-sha-256 --pwfile='$dir/pw' -E UTF8 >'$dir/initdb.log' 2>&1"
    as_user "$bin/pg_ctl -D '$dir/data' -l '$dir/server.log' -w -t 60 \
      -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=400\" start >&2"
    echo "postgres://postgres:$password@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_user "$bin/pg_ctl -D '$dir/data' -m immediate -w stop >&2" || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop DIR" >&2
    exit 2
    ;;
esac

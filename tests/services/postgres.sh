#!/usr/bin/env bash
# A private, throwaway PostgreSQL server for the store's tests.
#
#   bash tests/services/postgres.sh         install if needed, start, print the database URL
#   bash tests/services/postgres.sh stop    stop the server (the data are kept for the next start)
#
# Run as root. Idempotent: a second start finds the server running and prints the URL again.
# The last line of standard output is the URL, e.g.
#   postgresql+asyncpg://postgres@127.0.0.1:55432/visioregul_test
# and everything else goes to standard error, so that
#   export VISIOREGUL_TEST_POSTGRES_URL="$(bash tests/services/postgres.sh)"
# works.
#
# Settings (environment):
#   VISIOREGUL_TEST_PG_DIR   where the cluster lives (default /var/lib/visioregul-test-pg); every
#                            folder above it must be searchable by the postgres user
#   VISIOREGUL_TEST_PG_PORT  TCP port on 127.0.0.1 (default 55432)
#
# The cluster is separate from any PostgreSQL that Debian's package set up (port 5432): it is
# never touched here.

set -euo pipefail

# Keep standard output for the URL alone.
exec 3>&1 1>&2

PG_DIR="${VISIOREGUL_TEST_PG_DIR:-/var/lib/visioregul-test-pg}"
PG_PORT="${VISIOREGUL_TEST_PG_PORT:-55432}"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
DB_NAME="visioregul_test"
ACTION="${1:-start}"

log() { echo "postgres.sh: $*"; }
die() { echo "postgres.sh: error: $*"; exit 1; }

[[ "$(id -u)" == 0 ]] || die "run as root (it installs packages and switches to the postgres user)"

# The newest installed server binaries, or those matching an existing cluster's major version.
find_bindir() {
    local wanted="" dir
    if [[ -f "$PG_DATA/PG_VERSION" ]]; then
        wanted="$(cat "$PG_DATA/PG_VERSION")"
        if [[ -x "/usr/lib/postgresql/$wanted/bin/initdb" ]]; then
            echo "/usr/lib/postgresql/$wanted/bin"
            return 0
        fi
    fi
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
    fi
}

as_postgres() {
    # PostgreSQL refuses to run as root. Run from the cluster's folder: root's home directory is
    # not readable by the postgres user, and the tools complain about the working directory.
    # Close fd 3 (the URL's pipe): a server started from here would otherwise hold it open and a
    # caller's "$(bash postgres.sh)" would wait for it forever.
    (cd "$PG_DIR" && runuser -u postgres -- "$@" 3>&-)
}

is_running() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && as_postgres "$BINDIR/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

install_server() {
    log "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends postgresql
}

stop_server() {
    BINDIR="$(find_bindir)"
    if [[ -z "$BINDIR" || ! -d "$PG_DIR" ]] || ! is_running; then
        log "not running"
        return 0
    fi
    as_postgres "$BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop
}

init_cluster() {
    install -d -o postgres -g postgres -m 0700 "$PG_DIR"
    runuser -u postgres -- test -x "$PG_DIR" 3>&- \
        || die "the postgres user cannot reach $PG_DIR: choose a folder whose parents it can search"
    # Debian keeps each major version's binaries in /usr/lib/postgresql/MAJOR/bin.
    local major
    major="$(basename "$(dirname "$BINDIR")")"
    if [[ -f "$PG_DATA/PG_VERSION" && "$(cat "$PG_DATA/PG_VERSION")" != "$major" ]]; then
        log "cluster made by another PostgreSQL major version: starting afresh (test data only)"
        rm -rf "$PG_DATA"
    fi
    if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
        # A half-made folder from an interrupted run would make initdb refuse.
        rm -rf "$PG_DATA"
        log "creating a cluster in $PG_DATA"
        # trust: acceptable for this throwaway test cluster only. It holds nothing but test data,
        # listens on 127.0.0.1 and on a socket in a folder only root and postgres can enter.
        as_postgres "$BINDIR/initdb" -D "$PG_DATA" --username=postgres --auth=trust \
            --encoding=UTF8 --no-locale >"$PG_DIR/initdb.log" 2>&1 \
            || { cat "$PG_DIR/initdb.log"; die "initdb failed"; }
    fi
    # Written on every start, so a changed port or folder takes effect at the next start.
    cat >"$PG_DATA/visioregul-test.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
max_connections = 50
shared_buffers = 64MB
# Test data only: durability is traded for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    chown postgres:postgres "$PG_DATA/visioregul-test.conf"
    if ! grep -qx "include 'visioregul-test.conf'" "$PG_DATA/postgresql.conf"; then
        echo "include 'visioregul-test.conf'" >>"$PG_DATA/postgresql.conf"
    fi
}

start_server() {
    BINDIR="$(find_bindir)"
    if [[ -z "$BINDIR" ]]; then
        install_server
        BINDIR="$(find_bindir)"
        [[ -n "$BINDIR" ]] || die "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
    fi
    id -u postgres >/dev/null 2>&1 || die "no postgres system user (Debian's package creates it)"
    init_cluster

    if is_running && ! "$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
        log "running with other settings: restarting"
        as_postgres "$BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop
    fi
    if ! is_running; then
        log "starting PostgreSQL ($("$BINDIR/postgres" -V)) on 127.0.0.1:$PG_PORT"
        as_postgres "$BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start \
            || { tail -n 50 "$PG_LOG" || true; die "PostgreSQL did not start (log: $PG_LOG)"; }
    else
        log "already running on 127.0.0.1:$PG_PORT"
    fi

    local exists
    exists="$(as_postgres "$BINDIR/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -d postgres -tAX \
        -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")"
    if [[ "$exists" != 1 ]]; then
        log "creating database $DB_NAME"
        as_postgres "$BINDIR/createdb" -h "$PG_DIR" -p "$PG_PORT" -U postgres "$DB_NAME"
    fi
    echo "postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/$DB_NAME" >&3
}

case "$ACTION" in
    start) start_server ;;
    stop) stop_server ;;
    *) die "usage: $0 [start|stop]" ;;
esac

#!/bin/sh
# First start: an empty cluster with POSTGRES_USER (password POSTGRES_PASSWORD, scram) owning
# POSTGRES_DB. Every start: `postgres` with this script's arguments (e.g. -c port=5433).
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required (from the environment)}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    postgres -D "$PGDATA" -c listen_addresses= -k /var/run/postgresql &
    pid=$!
    tries=0
    until pg_isready -h /var/run/postgresql -q; do # at most 30 s
        tries=$((tries + 1))
        [ "$tries" -le 150 ] || { echo "entrypoint.sh: postgres did not start" >&2; exit 1; }
        sleep 0.2
    done
    createdb -h /var/run/postgresql -U "$user" "$db"
    kill -INT "$pid"
    wait "$pid"
fi
exec postgres -D "$PGDATA" "$@"

#!/bin/bash
# The entry point of test/deploy/container.sh's stand-in for the official postgres:17 image, which
# no registry here can provide. It does what docker-compose.yml relies on, the way the official
# docker-entrypoint.sh does it: started as root, it owns PGDATA and the socket folder to the
# postgres user and runs again as that user; on an empty PGDATA it runs initdb with POSTGRES_USER
# and POSTGRES_PASSWORD, accepts passwords (scram-sha-256) from every address, creates POSTGRES_DB
# on a server that listens on the socket only, then runs the real server on every address.
# Left out: /docker-entrypoint-initdb.d scripts, POSTGRES_HOST_AUTH_METHOD, *_FILE secrets.
set -Eeuo pipefail

# `docker run postgres:17 -c name=value`: options for the server.
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chmod 3777 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo 'Error: Database is uninitialized and superuser password is not specified (POSTGRES_PASSWORD).' >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  # initdb trusts the socket and loopback (the official image keeps that); from other containers,
  # a password.
  echo 'host all all all scram-sha-256' >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres --quiet -c "CREATE DATABASE \"$db\"" >/dev/null
  fi
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"

#!/usr/bin/env bash
# Install (Debian's packages) and start a local PostgreSQL server, create the
# q2c role and databases, and print the DATABASE_URL to use. Idempotent.
set -euo pipefail
# Only the URL goes to stdout: everything else (pg_ctlcluster's notes such as
# "Removed stale pid file.", psql chatter) is sent to stderr.
exec 3>&1 1>&2
say() { printf '[postgres] %s\n' "$*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { say "PostgreSQL is not installed; run as root or: apt-get install postgresql"; exit 1; }
  say "installing PostgreSQL from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

version=$(pg_lsclusters -h | awk 'NR==1{print $1}')
if [ -z "$version" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  say "creating cluster $version/main"
  pg_createcluster "$version" main 3>&-
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main"{print $3}')
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main"{print $4}' | grep -q online; then
  say "starting cluster $version/main on port $port"
  pg_ctlcluster "$version" main start 3>&-
fi

psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtA -p $port $*"; }
if [ "$(psql_admin "-c \"select 1 from pg_roles where rolname='q2c'\"")" != 1 ]; then
  psql_admin "-c \"create role q2c login password 'q2c' createdb\""
fi
for db in q2c q2c_test; do
  if [ "$(psql_admin "-c \"select 1 from pg_database where datname='$db'\"")" != 1 ]; then
    psql_admin "-c \"create database $db owner q2c\""
  fi
done
say "ready on port $port"
echo "postgres://q2c:q2c@127.0.0.1:$port/q2c_test" >&3

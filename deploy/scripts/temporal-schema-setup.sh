#!/bin/sh
# One-shot schema setup for Temporal on PostgreSQL; runs in the temporalio/admin-tools image.
# Safe to re-run: `create` ignores an existing database, `setup-schema -v 0.0` only initialises the
# version bookkeeping, and `update-schema` applies just the versions not yet recorded.
# The SQL password is read by temporal-sql-tool from the SQL_PASSWORD environment variable.
set -eu

PG_HOST="${POSTGRES_SEEDS:-postgresql}"
PG_PORT="${DB_PORT:-5432}"
PG_USER="${POSTGRES_USER:-temporal}"
DB_MAIN="${DBNAME:-temporal}"
DB_VIS="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$PG_HOST" -p "$PG_PORT" -u "$PG_USER" "$@"
}

n=1
until nc -z -w 5 "$PG_HOST" "$PG_PORT"; do
  [ "$n" -ge 60 ] && { echo "schema: PostgreSQL at $PG_HOST:$PG_PORT never came up" >&2; exit 1; }
  echo "schema: waiting for PostgreSQL ($n/60)"; n=$((n + 1)); sleep 2
done

for pair in "$DB_MAIN:temporal" "$DB_VIS:visibility"; do
  db=${pair%%:*}
  kind=${pair#*:}
  echo "schema: preparing database '$db' ($kind schema)"
  sql_tool --db "$db" create
  sql_tool --db "$db" setup-schema -v 0.0
  sql_tool --db "$db" update-schema -d "$SCHEMA_ROOT/$kind/versioned"
done
echo "schema: done"

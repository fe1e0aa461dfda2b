#!/usr/bin/env bash
# Every workload of issue #11, each timed against its peer or raw client in the same run, as one table.
#
#   bench/all.sh                      # build, then every row (~5-10 min; PostgreSQL and MariaDB as for apply.sh)
#   SKIP_BUILD=1 ROWS="read apply" bench/all.sh
#
# Environment knobs:
#   ROWS="read pg apply autogen"  which groups of rows to run ("cold": only the cold check --live rows)
#   RUNS=15      timed rounds for the short commands (median reported); APPLY_RUNS=3; AUTOGEN_RUNS=3
#   PG_URL=postgres://postgres@127.0.0.1:5432/postgres   MYSQL_URL=mysql://root@127.0.0.1:3306/test
#   AUTOGEN_N=10 tables in the autogenerate app (the issue's "7-12 table app")
#   SKIP_BUILD=1 KEEP=1
#
# A peer that is not installed (sqlx-cli, dbmate) is named as missing in its row, not installed. Figures are
# wall clock: on a shared machine take them together with instruction counts (see bench/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/alembix"
ROWS=${ROWS:-"read pg apply autogen"}
export RUNS=${RUNS:-15} APPLY_RUNS=${APPLY_RUNS:-3} AUTOGEN_RUNS=${AUTOGEN_RUNS:-3} AUTOGEN_N=${AUTOGEN_N:-10}
export PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export MYSQL_URL=${MYSQL_URL:-mysql://root@127.0.0.1:3306/test}

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release -p alembix-cli"
    (cd "$ROOT" && cargo build --release -p alembix-cli)
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/alembix-all.XXXXXX")
if [ -n "${KEEP:-}" ]; then
    trap 'log "kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"; psql -X -q "$PG_URL" -c "DROP DATABASE IF EXISTS alembix_bench_all WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
fi
# The header index of these projects lives here, not in the user's cache.
export ALEMBIX_CACHE_DIR="$WORK/cache"

python3 "$ROOT/bench/all_bench.py" "$ROOT" "$BIN" "$WORK" $ROWS

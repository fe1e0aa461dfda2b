#!/usr/bin/env bash
# Every workload of issue #11, each timed against its peer or raw client in the same run, as one table.
#
#   bench/all.sh                      # build, then the quick rows (~5-10 min; PostgreSQL and MariaDB as for apply.sh)
#   ROWS=all bench/all.sh             # every row of the issue, the other scripts too (~45-60 min)
#   SKIP_BUILD=1 ROWS="read apply" bench/all.sh
#
# Environment knobs:
#   ROWS="read pg apply autogen"  which groups of rows to run ("cold": only the cold check --live rows).
#        Groups that run another script after the table: "servers" (apply.sh: 500 migrations up and down on
#        PostgreSQL, MariaDB and SQLite against each client), "models" (models.sh: the edit loop and the cold
#        300-table check against Alembic, then MODEL_SET=real), "verify" (verify.sh: 50 revisions, then
#        MODEL_SET=real, against pytest-alembic), "latency" (latency.py: current and upgrade with nothing to
#        do through a proxy adding RTT_MS=10 of round trip, against psql, sqlx and dbmate).
#        "all" = read pg apply autogen servers models verify latency.
#   RUNS=15      timed rounds for the short commands (median reported); APPLY_RUNS=3; AUTOGEN_RUNS=3
#   PG_URL=postgres://postgres@127.0.0.1:5432/postgres   MYSQL_URL=mysql://root@127.0.0.1:3306/test
#   AUTOGEN_N=10 tables in the autogenerate app (the issue's "7-12 table app")
#   SKIP_BUILD=1 KEEP=1
#   JOURNALED_PG=1  the models group also runs on a throwaway PostgreSQL whose data directory is on a
#                journaled ext4 (bench/journaled-pg.sh; root): the dev VM's root file system has no journal,
#                which slows repeated cold scratch builds (bench/README.md, seventh December round)
#
# A peer that is not installed (sqlx-cli, diesel_cli, dbmate) is named as missing in its row, not installed. Figures are
# wall clock: on a shared machine take them together with instruction counts (see bench/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="$ROOT/target/release/alembix"
ROWS=${ROWS:-"read pg apply autogen"}
[ "$ROWS" = all ] && ROWS="read pg apply autogen servers models verify latency"
TABLE_ROWS="" SCRIPTS=""
for g in $ROWS; do
    case $g in
        servers | models | verify | latency) SCRIPTS="$SCRIPTS $g" ;;
        *) TABLE_ROWS="$TABLE_ROWS $g" ;;
    esac
done
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

if [ -n "$TABLE_ROWS" ]; then
    # shellcheck disable=SC2086 # one word per group
    python3 "$ROOT/bench/all_bench.py" "$ROOT" "$BIN" "$WORK" $TABLE_ROWS
fi
# The other scripts print their own tables (each with its peer and ratios, from its own interleaved run).
for g in $SCRIPTS; do
    case $g in
        servers) log "bench/apply.sh (500 migrations, PostgreSQL, MariaDB, SQLite)"
            SKIP_BUILD=1 RUNS=$APPLY_RUNS "$ROOT/bench/apply.sh" ;;
        models) log "bench/models.sh (300 generated models), then MODEL_SET=real (53 models)"
            SKIP_BUILD=1 RUNS=$AUTOGEN_RUNS "$ROOT/bench/models.sh"
            SKIP_BUILD=1 RUNS=$AUTOGEN_RUNS MODEL_SET=real "$ROOT/bench/models.sh"
            if [ -n "${JOURNALED_PG:-}" ]; then
                log "the same on PostgreSQL, its data directory on a journaled ext4 (bench/journaled-pg.sh)"
                if jurl=$("$ROOT/bench/journaled-pg.sh" start); then
                    ALEMBIX_BENCH_POSTGRES_URL=$jurl ENGINES=postgresql SKIP_BUILD=1 RUNS=$AUTOGEN_RUNS \
                        "$ROOT/bench/models.sh" || true
                    ALEMBIX_BENCH_POSTGRES_URL=$jurl ENGINES=postgresql SKIP_BUILD=1 RUNS=$AUTOGEN_RUNS \
                        MODEL_SET=real "$ROOT/bench/models.sh" || true
                    "$ROOT/bench/journaled-pg.sh" stop || true
                else
                    log "bench/journaled-pg.sh could not start a server (root and a loop device are needed)"
                fi
            fi ;;
        verify) log "bench/verify.sh (50 revisions), then MODEL_SET=real"
            SKIP_BUILD=1 RUNS=$AUTOGEN_RUNS "$ROOT/bench/verify.sh"
            SKIP_BUILD=1 RUNS=$AUTOGEN_RUNS MODEL_SET=real "$ROOT/bench/verify.sh" ;;
        latency) log "bench/latency.py (PostgreSQL through a proxy adding ${RTT_MS:-10} ms of round trip)"
            python3 "$ROOT/bench/latency.py" "$BIN" "$WORK/latency" ;;
    esac
done

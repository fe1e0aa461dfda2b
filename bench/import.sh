#!/usr/bin/env bash
# Benchmark `alembix import alembic` against Alembic's own offline rendering of the same history.
#
#   bench/import.sh                         # SQLite + PostgreSQL, median of 5 after 1 warm-up (~2 min)
#   RUNS=1 ENGINES=sqlite SKIP_BUILD=1 bench/import.sh
#
# Environment knobs:
#   RUNS=5           timed runs per command (interleaved; the median is reported)
#   WARMUP=1         untimed rounds before timing (every run, warm-up or timed, is checked)
#   ENGINES="sqlite postgresql"
#   ALEMBIX_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
#                    the server alembix gets as --server (loopback only); PostgreSQL is skipped, with a
#                    notice, when it cannot be reached
#   SKIP_BUILD=1     do not run cargo build (use the existing target/release/alembix)
#   KEEP=1           keep the generated project and raw JSON (path printed at the end)
#
# Creates no database itself: the baseline renders offline, and alembix creates and drops its own scratch
# databases (on the --server) for the replay and the proof. SQLite needs no server.
# Needs Python 3 with alembic and sqlalchemy (psycopg2-binary for PostgreSQL; pip-installed if missing).
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
ENGINES=${ENGINES:-"sqlite postgresql"}
PG_URL=${ALEMBIX_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BIN="$ROOT/target/release/alembix"
HELPER="$ROOT/bench/import_bench.py"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
case $RUNS$WARMUP in *[!0-9]*) echo "RUNS and WARMUP must be numbers" >&2; exit 1 ;; esac
[ "$RUNS" -ge 1 ] || { echo "RUNS must be at least 1" >&2; exit 1; }
for e in $ENGINES; do
    case $e in
        sqlite | postgresql) ;;
        *) echo "unknown engine $e (sqlite, postgresql)" >&2; exit 1 ;;
    esac
done
if ! python3 -c 'import alembic, sqlalchemy' 2>/dev/null; then
    log "pip install alembic sqlalchemy"
    python3 -m pip install -q alembic sqlalchemy || { echo "cannot pip install alembic sqlalchemy" >&2; exit 1; }
fi
case " $ENGINES " in *" postgresql "*)
    if ! python3 -c 'import psycopg2' 2>/dev/null; then
        log "pip install psycopg2-binary"
        python3 -m pip install -q psycopg2-binary || log "cannot pip install psycopg2-binary"
    fi
    ;;
esac

# ---------------------------------------------------------------------------- PostgreSQL
SKIPPED=()
RUN_ENGINES=()
for e in $ENGINES; do
    if [ "$e" = postgresql ]; then
        if why=$(pg_check "$PG_URL"); then
            RUN_ENGINES+=("postgresql=$PG_URL")
        else
            SKIPPED+=("PostgreSQL: $why")
            log "skipping PostgreSQL: $why"
        fi
    else
        RUN_ENGINES+=("$e")
    fi
done
[ ${#RUN_ENGINES[@]} -gt 0 ] || { printf 'nothing to run: %s\n' "${SKIPPED[@]}" >&2; exit 1; }

# ---------------------------------------------------------------------------- build
if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release -p alembix-cli"
    (cd "$ROOT" && cargo build --release -p alembix-cli)
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

# ---------------------------------------------------------------------------- work dir, cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alembix-bench-import.XXXXXX")
if [ -n "${KEEP:-}" ]; then
    trap 'log "kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
trap 'exit 130' INT TERM

log "generating the Alembic project (70 revisions)"
python3 "$HELPER" gen "$WORK"

# ---------------------------------------------------------------------------- time
log "timing Alembic offline vs alembix import ($WARMUP warm-up + $RUNS runs per command; ${RUN_ENGINES[*]%%=*})"
python3 "$HELPER" run "$WORK" "$BIN" "$RUNS" "$WARMUP" "$WORK/import.json" "${RUN_ENGINES[@]}"

# ---------------------------------------------------------------------------- report
python3 "$HELPER" report "$WORK/import.json"
[ ${#SKIPPED[@]} -eq 0 ] || printf 'skipped: %s\n' "${SKIPPED[@]}"

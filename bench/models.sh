#!/usr/bin/env bash
# Benchmark `alembix check --live` with SQLAlchemy models (models = "app.models") against `alembic check`.
#
#   bench/models.sh                         # SQLite + PostgreSQL, median of 5 after 1 warm-up (~3 min)
#   RUNS=1 ENGINES=sqlite SKIP_BUILD=1 bench/models.sh
#
# Environment knobs:
#   RUNS=5           timed runs per command (interleaved; the median is reported)
#   WARMUP=1         untimed rounds before timing (also where the results are verified)
#   ENGINES="sqlite postgresql mysql"
#   ALEMBIX_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306
#                    the MariaDB/MySQL server for `mysql` (same two databases; skipped with a notice when down)
#   ALEMBIX_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
#                    the server (loopback only) where the databases benchh_models (alembix's) and
#                    benchh_models_alembic (Alembic's) are created and dropped; PostgreSQL is skipped, with a
#                    notice, when it cannot be reached
#   MODEL_SET=real   the 53-table model set shaped like a real app (bench/real_models.py) instead of the 300
#                    generated models
#   SKIP_BUILD=1     do not run cargo build (use the existing target/release/alembix)
#   KEEP=1           keep the generated projects and raw JSON (path printed at the end)
#
# alembix itself creates and drops scratch databases on that server for a cold `check --live`. SQLite files
# live in the temp dir. Needs Python 3 with alembic and sqlalchemy (psycopg2-binary for PostgreSQL;
# pip-installed if missing). See bench/README.md for what is measured and how to read the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
ENGINES=${ENGINES:-"sqlite postgresql mysql"}
MY_URL=${ALEMBIX_BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306}
PG_URL=${ALEMBIX_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
BIN="$ROOT/target/release/alembix"
HELPER="$ROOT/bench/models_bench.py"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
case $RUNS$WARMUP in *[!0-9]*) echo "RUNS and WARMUP must be numbers" >&2; exit 1 ;; esac
[ "$RUNS" -ge 1 ] || { echo "RUNS must be at least 1" >&2; exit 1; }
for e in $ENGINES; do
    case $e in
        sqlite | postgresql | mysql) ;;
        *) echo "unknown engine $e (sqlite, postgresql, mysql)" >&2; exit 1 ;;
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
case " $ENGINES " in *" mysql "*)
    if ! python3 -c 'import pymysql' 2>/dev/null; then
        log "pip install pymysql"
        python3 -m pip install -q pymysql || log "cannot pip install pymysql"
    fi
    ;;
esac

# ---------------------------------------------------------------------------- PostgreSQL
SKIPPED=()
RUN_ENGINES=()
USE_PG=
for e in $ENGINES; do
    if [ "$e" = postgresql ]; then
        if why=$(pg_check "$PG_URL"); then
            RUN_ENGINES+=("postgresql=$PG_URL")
            USE_PG=1
        else
            SKIPPED+=("PostgreSQL: $why")
            log "skipping PostgreSQL: $why"
        fi
    elif [ "$e" = mysql ]; then
        if python3 -c "import sys, urllib.parse as u, pymysql; p = u.urlsplit(sys.argv[1]); pymysql.connect(host=p.hostname, port=p.port or 3306, user=p.username or 'root', password=p.password or '', connect_timeout=5).close()" "$MY_URL" 2>/dev/null; then
            RUN_ENGINES+=("mysql=$MY_URL")
        else
            SKIPPED+=("MariaDB: cannot connect to $MY_URL")
            log "skipping MariaDB: cannot connect to $MY_URL"
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
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alembix-bench-models.XXXXXX")
cleanup() {
    [ -z "$USE_PG" ] || python3 "$HELPER" cleanup "$PG_URL" >/dev/null 2>&1 || true
    if [ -n "${KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "generating the models package (${MODEL_SET:-generated} set) and the two projects"
python3 "$HELPER" gen "$WORK"

# ---------------------------------------------------------------------------- time
log "timing alembix check --live vs alembic check ($WARMUP warm-up + $RUNS runs per command; ${RUN_ENGINES[*]%%=*})"
python3 "$HELPER" run "$WORK" "$BIN" "$RUNS" "$WARMUP" "$WORK/models.json" "${RUN_ENGINES[@]}"

# ---------------------------------------------------------------------------- report
python3 "$HELPER" report "$WORK/models.json"
[ ${#SKIPPED[@]} -eq 0 ] || printf 'skipped: %s\n' "${SKIPPED[@]}"

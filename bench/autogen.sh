#!/usr/bin/env bash
# Benchmark autogenerate and check against Alembic, and introspection of a large PostgreSQL schema.
#
#   bench/autogen.sh                                # PostgreSQL + MariaDB + SQLite, then 2,000-table inspect (~10 min)
#   RUNS=3 DIALECTS=postgres SKIP_INSPECT=1 bench/autogen.sh
#
# Environment knobs:
#   N=300            tables in the workload (10 columns, an index and a foreign key each; one column missing)
#   RUNS=5           timed runs per command (interleaved; the median is reported)
#   WARMUP=1         untimed rounds before timing (also where the generated files are verified)
#   DIALECTS="postgres mysql sqlite"
#   INSPECT_N=2000   tables for the introspection timing on PostgreSQL (part 3)
#   INSPECT_RUNS=5   timed `alembix::dialect::inspect` calls (median reported)
#   INSPECT_CHECK_RUNS=1  runs of `alembix check --live` on the INSPECT_N-table database (0: skip; slow)
#   SKIP_INSPECT=1   skip part 3
#   SKIP_BUILD=1     do not run cargo build (use target/release/alembix and target/release/inspect-bench)
#   KEEP=1           keep the generated projects and raw JSON (path printed at the end)
#
# Servers: PostgreSQL at 127.0.0.1:5432 (user postgres, trust), MariaDB at 127.0.0.1:3306 (root, no
# password). Creates and drops alembix_bench_autogen_x, alembix_bench_autogen_a, alembix_bench_inspect;
# alembix itself creates and drops its scratch databases (alembix_dev_*). SQLite files live in the temp dir.
# Needs Python 3 with alembic, sqlalchemy, psycopg2-binary, pymysql (pip-installed if missing).
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-300}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
DIALECTS=${DIALECTS:-"postgres mysql sqlite"}
INSPECT_N=${INSPECT_N:-2000}
INSPECT_RUNS=${INSPECT_RUNS:-5}
INSPECT_CHECK_RUNS=${INSPECT_CHECK_RUNS:-1}
BIN="$ROOT/target/release/alembix"
INSPECT_BIN="$ROOT/target/release/inspect-bench"
HELPER="$ROOT/bench/autogen_bench.py"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
USE_PG=
for d in $DIALECTS; do
    case $d in
        postgres) need psql postgresql-client; USE_PG=1 ;;
        mysql) need mariadb mariadb-client ;;
        sqlite) need sqlite3 sqlite3 ;;
        *) echo "unknown dialect $d (postgres, mysql, sqlite)" >&2; exit 1 ;;
    esac
done
[ -n "${SKIP_INSPECT:-}" ] || { need psql postgresql-client; USE_PG=1; }
if ! python3 -c 'import alembic, sqlalchemy, psycopg2, pymysql' 2>/dev/null; then
    log "pip install alembic sqlalchemy psycopg2-binary pymysql"
    python3 -m pip install -q alembic sqlalchemy psycopg2-binary pymysql ||
        { echo "cannot pip install alembic sqlalchemy psycopg2-binary pymysql" >&2; exit 1; }
fi
command -v alembic >/dev/null || { echo "the alembic command is not on PATH" >&2; exit 1; }

# ---------------------------------------------------------------------------- servers
# Start a local server that is down (best effort, as root); fail early with a clear message otherwise.
if [ -n "$USE_PG" ]; then
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        log "starting PostgreSQL"
        ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
        [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
        for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    fi
    psql -X -q -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null ||
        { echo "PostgreSQL is not reachable at 127.0.0.1:5432 as postgres" >&2; exit 1; }
fi
case " $DIALECTS " in *" mysql "*)
    if ! mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; then
        log "starting MariaDB"
        start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
        for _ in $(seq 30); do mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
    fi
    mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null ||
        { echo "MariaDB is not reachable at 127.0.0.1:3306 as root" >&2; exit 1; }
    ;;
esac

# ---------------------------------------------------------------------------- build
if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release -p alembix-cli"
    (cd "$ROOT" && cargo build --release -p alembix-cli)
    # Its own package (not a workspace member) sharing the workspace's target dir and, via a copy of the
    # workspace lock file, the same dependency versions.
    log "cargo build --release --manifest-path bench/inspect-bench/Cargo.toml"
    cp "$ROOT/Cargo.lock" "$ROOT/bench/inspect-bench/Cargo.lock"
    (cd "$ROOT" && CARGO_TARGET_DIR="$ROOT/target" \
        cargo build --release --manifest-path bench/inspect-bench/Cargo.toml)
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }
[ -n "${SKIP_INSPECT:-}" ] || [ -x "$INSPECT_BIN" ] || { echo "no binary at $INSPECT_BIN" >&2; exit 1; }
IBIN=-  # inspect-bench also times the live database's inspection in part 1, when it is there
[ -x "$INSPECT_BIN" ] && IBIN=$INSPECT_BIN

# ---------------------------------------------------------------------------- work dir, cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alembix-bench-autogen.XXXXXX")
cleanup() {
    python3 "$HELPER" cleanup >/dev/null 2>&1 || true
    if [ -n "${KEEP:-}" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "generating the workload ($N tables)"
python3 "$HELPER" gen "$WORK" "$N"

# ---------------------------------------------------------------------------- parts 1 + 2
log "timing alembix vs Alembic ($WARMUP warm-up + $RUNS runs per command; dialects: $DIALECTS)"
# shellcheck disable=SC2086
python3 "$HELPER" run "$WORK" "$BIN" "$IBIN" "$RUNS" "$WARMUP" "$WORK/autogen.json" $DIALECTS

# ---------------------------------------------------------------------------- part 3
if [ -z "${SKIP_INSPECT:-}" ]; then
    log "timing alembix::dialect::inspect on $INSPECT_N PostgreSQL tables ($INSPECT_RUNS runs)"
    python3 "$HELPER" inspect "$WORK" "$BIN" "$INSPECT_BIN" "$INSPECT_N" "$INSPECT_RUNS" "$INSPECT_CHECK_RUNS" "$WORK/inspect.json"
fi

# ---------------------------------------------------------------------------- report
python3 "$HELPER" report "$WORK/autogen.json" "$WORK/inspect.json"

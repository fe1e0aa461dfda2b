#!/usr/bin/env bash
# Benchmark alembix applying and reverting N one-table migrations against each database's own client.
#
#   bench/apply.sh                          # 500 migrations, PostgreSQL + MariaDB + SQLite, 3 runs each
#   (sqlx-cli and diesel_cli, when on PATH, run the same migrations on the same databases as peers)
#   N=100 RUNS=5 DIALECTS=sqlite bench/apply.sh
#
# Environment knobs:
#   N=500          migrations (linear, one CREATE TABLE up / DROP TABLE down each)
#   RUNS=3         runs per measurement (fresh database each run; the median is reported)
#   DIALECTS="postgres mysql sqlite"   which databases to time (SQLite needs no server)
#   CURRENT_WARMUP=5 CURRENT_RUNS=50   hyperfine settings for `alembix current` on SQLite
#   SKIP_BUILD=1   do not run cargo build (use the existing target/release/alembix)
#   KEEP=1         keep the generated project, client scripts and raw results (path printed at the end)
#
# Servers: PostgreSQL at 127.0.0.1:5432 (user postgres, trust), MariaDB at 127.0.0.1:3306 (root, no
# password). Each run drops and recreates the database `alembix_bench_apply`, and drops it at the end.
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-500}
RUNS=${RUNS:-3}
DIALECTS=${DIALECTS:-"postgres mysql sqlite"}
CURRENT_WARMUP=${CURRENT_WARMUP:-5}
CURRENT_RUNS=${CURRENT_RUNS:-50}
BIN="$ROOT/target/release/alembix"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }
for d in $DIALECTS; do
    case $d in
        postgres) need psql postgresql-client ;;
        mysql) need mariadb mariadb-client ;;
        sqlite) need sqlite3 sqlite3 ;;
        *) echo "unknown dialect $d (postgres, mysql, sqlite)" >&2; exit 1 ;;
    esac
done
HAVE_HYPERFINE=1
if ! command -v hyperfine >/dev/null; then
    log "hyperfine not found; trying apt-get install hyperfine"
    apt_install hyperfine && command -v hyperfine >/dev/null || HAVE_HYPERFINE=
fi
if [ -n "$HAVE_HYPERFINE" ] && ! grep -q -- '--shell' <<<"$(hyperfine --help 2>/dev/null)"; then
    HAVE_HYPERFINE=
fi
[ -n "$HAVE_HYPERFINE" ] || log "no usable hyperfine: skipping the \`alembix current\` timing"

# ---------------------------------------------------------------------------- servers
# Start a local server that is down (best effort, as root); fail early with a clear message otherwise.
for d in $DIALECTS; do
    case $d in
        postgres)
            if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
                log "starting PostgreSQL"
                ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
                [ -n "$ver" ] && pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
                for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
            fi
            psql -X -q -h 127.0.0.1 -U postgres -d postgres -c 'SELECT 1' >/dev/null ||
                { echo "PostgreSQL is not reachable at 127.0.0.1:5432 as postgres" >&2; exit 1; }
            ;;
        mysql)
            if ! mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1; then
                log "starting MariaDB"
                start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
                for _ in $(seq 30); do mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
            fi
            mariadb -h 127.0.0.1 -u root -e 'SELECT 1' >/dev/null ||
                { echo "MariaDB is not reachable at 127.0.0.1:3306 as root" >&2; exit 1; }
            ;;
    esac
done

# ---------------------------------------------------------------------------- build
if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release -p alembix-cli"
    (cd "$ROOT" && cargo build --release -p alembix-cli)
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

# ---------------------------------------------------------------------------- project
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alembix-bench-apply.XXXXXX")
if [ -n "${KEEP:-}" ]; then
    trap 'log "kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
log "generating $N migrations and the client scripts"
python3 "$ROOT/bench/apply_bench.py" gen "$N" "$WORK"
"$BIN" -c "$WORK/project/alembix.toml" heads >/dev/null

# ---------------------------------------------------------------------------- upgrade / downgrade
# Per dialect and run: fresh database, then `alembix -q upgrade head` + `alembix -q downgrade base`,
# the bare client scripts and the client scripts with bookkeeping (interleaved, so drift hits all three).
log "timing upgrade head / downgrade base ($RUNS runs per measurement; dialects: $DIALECTS)"
# shellcheck disable=SC2086
python3 "$ROOT/bench/apply_bench.py" run "$WORK" "$BIN" "$RUNS" "$WORK/apply.json" $DIALECTS

# ---------------------------------------------------------------------------- current on SQLite
if [ -n "$HAVE_HYPERFINE" ]; then
    log "timing \`alembix current\` on SQLite at head (hyperfine, warmup $CURRENT_WARMUP, runs $CURRENT_RUNS)"
    db="$WORK/current.db"
    rm -f "$db" "$db.alembix-lock"
    (cd "$WORK/project" && "$BIN" --url "sqlite:$db" -q upgrade head >/dev/null)
    rows=$(sqlite3 "$db" 'SELECT count(*) FROM alembix_version')
    [ "$rows" = 1 ] || { echo "expected one row in alembix_version, got $rows" >&2; exit 1; }
    (
        cd "$WORK/project"
        hyperfine -N --style none --warmup "$CURRENT_WARMUP" --runs "$CURRENT_RUNS" \
            --export-json "$WORK/current.json" \
            -n "alembix current" "$(printf '%q' "$BIN") --url sqlite:$db current" \
            -n "sqlite3 select" "sqlite3 $db 'SELECT version_num FROM alembix_version'" >/dev/null
    )
fi

# ---------------------------------------------------------------------------- report
python3 "$ROOT/bench/apply_bench.py" report "$WORK/apply.json" "$WORK/current.json"

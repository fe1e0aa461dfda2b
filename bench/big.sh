#!/usr/bin/env bash
# One transactional revision of N single-row INSERTs (the production-hardening issue's big revision),
# applied by alembix and by each engine's own client fed the same statements in one transaction.
#
#   bench/big.sh                      # N=64000, SQLite + PostgreSQL + MariaDB, median of RUNS=3
#   N=16000 DIALECTS=sqlite bench/big.sh
#
# Prints time and peak memory for both, and the ratio alembix / client. Databases: `alembix_bench_big` on
# 127.0.0.1 (dropped and recreated each run, dropped at the end); SKIP_BUILD=1 uses the existing binary.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-64000}
RUNS=${RUNS:-3}
DIALECTS=${DIALECTS:-"sqlite postgres mysql"}
BIN="$ROOT/target/release/alembix"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
need /usr/bin/time time
for d in $DIALECTS; do
    case $d in
        postgres) need psql postgresql-client ;;
        mysql) need mariadb mariadb-client ;;
        sqlite) need sqlite3 sqlite3 ;;
        *) echo "unknown dialect $d" >&2; exit 1 ;;
    esac
done
[ "${SKIP_BUILD:-}" = 1 ] || (cd "$ROOT" && cargo build --release -q -p alembix-cli)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/migrations"
python3 - "$N" "$work" <<'PY'
import sys
n, work = int(sys.argv[1]), sys.argv[2]
body = "CREATE TABLE big (id INTEGER NOT NULL, note VARCHAR(40));\n" + "".join(
    f"INSERT INTO big (id, note) VALUES ({i}, 'row {i}');\n" for i in range(n))
open(f"{work}/migrations/b1_big.sql", "w").write(
    f"-- big\n-- Revision ID: b1\n-- Revises:\n\n-- migrate:up\n{body}\n-- migrate:down\nDROP TABLE big;\n")
open(f"{work}/client.sql", "w").write("BEGIN;\n" + body + "COMMIT;\n")
PY
printf 'migrations = "migrations"\n' > "$work/alembix.toml"

# measure CMD... -> "seconds kilobytes"
measure() { /usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }; cat "$work/t"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-10s %8s %10s %10s %10s %10s %7s\n' engine N client_s client_MB alembix_s alembix_MB ratio
for d in $DIALECTS; do
    : > "$work/c"; : > "$work/a"
    for _ in $(seq 1 "$RUNS"); do
        case $d in
            sqlite)
                rm -f "$work"/c.db "$work"/a.db*
                measure sqlite3 "$work/c.db" ".read $work/client.sql" >> "$work/c"
                measure "$BIN" -c "$work/alembix.toml" --url "sqlite:$work/a.db" upgrade head -q >> "$work/a" ;;
            postgres)
                psql -qh 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS alembix_bench_big" -c "CREATE DATABASE alembix_bench_big" >/dev/null
                measure psql -qh 127.0.0.1 -U postgres -d alembix_bench_big -v ON_ERROR_STOP=1 -f "$work/client.sql" >> "$work/c"
                psql -qh 127.0.0.1 -U postgres -c "DROP DATABASE alembix_bench_big" -c "CREATE DATABASE alembix_bench_big" >/dev/null
                measure "$BIN" -c "$work/alembix.toml" --url postgres://postgres@127.0.0.1:5432/alembix_bench_big upgrade head -q >> "$work/a" ;;
            mysql)
                mariadb -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS alembix_bench_big; CREATE DATABASE alembix_bench_big"
                measure sh -c "mariadb -h 127.0.0.1 -uroot alembix_bench_big < '$work/client.sql'" >> "$work/c"
                mariadb -h 127.0.0.1 -uroot -e "DROP DATABASE alembix_bench_big; CREATE DATABASE alembix_bench_big"
                measure "$BIN" -c "$work/alembix.toml" --url mysql://root@127.0.0.1:3306/alembix_bench_big upgrade head -q >> "$work/a" ;;
        esac
    done
    cs=$(cut -d' ' -f1 "$work/c" | median); cm=$(cut -d' ' -f2 "$work/c" | median)
    as=$(cut -d' ' -f1 "$work/a" | median); am=$(cut -d' ' -f2 "$work/a" | median)
    printf '%-10s %8s %10s %10.1f %10s %10.1f %7.2f\n' "$d" "$N" "$cs" "$(echo "$cm/1024" | bc -l)" "$as" "$(echo "$am/1024" | bc -l)" "$(echo "$as/$cs" | bc -l)"
done
psql -qh 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS alembix_bench_big" >/dev/null 2>&1 || true
mariadb -h 127.0.0.1 -uroot -e "DROP DATABASE IF EXISTS alembix_bench_big" 2>/dev/null || true

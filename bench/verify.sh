#!/usr/bin/env bash
# `alembix verify` (the stairway: every revision up, down, up again, with the schema compared each time)
# against pytest-alembic's built-in tests on the same history, on SQLite and PostgreSQL, in one run.
#
#   bench/verify.sh                       # 50 revisions, both engines, 5 interleaved runs each
#   N=200 RUNS=3 ENGINES=postgres bench/verify.sh
#
# Knobs: N (revisions, 50), RUNS (5), ENGINES ("sqlite postgres"), SKIP_BUILD=1 (use target/release/alembix),
# MODEL_SET=real (instead of N generated revisions: the 53-table model set of bench/real_models.py, its
# history of two revisions written by each tool's own autogenerate),
# BENCH_PG_URL (postgresql://postgres@127.0.0.1:5432/postgres: a user that may create databases).
# pytest-alembic (with pytest < 9, which it needs) is pip-installed when missing. Target: alembix at most
# 0.2x pytest-alembic's time on both engines.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-50}
RUNS=${RUNS:-5}
ENGINES=${ENGINES:-"sqlite postgres"}
BIN="$ROOT/target/release/alembix"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

if ! python3 -c 'import pytest_alembic, alembic, sqlalchemy, psycopg2' 2>/dev/null; then
    log "pip install pytest-alembic 'pytest<9' alembic sqlalchemy psycopg2-binary"
    python3 -m pip install -q 'pytest<9' pytest-alembic alembic sqlalchemy psycopg2-binary ||
        { echo "cannot pip install pytest-alembic" >&2; exit 1; }
fi
if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release -p alembix-cli"
    (cd "$ROOT" && cargo build --release -q -p alembix-cli)
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

printf '%-9s %5s %14s %16s %8s %s\n' engine revs "alembix (s)" "pytest-alembic" ratio target
for engine in $ENGINES; do
    out=$(python3 "$ROOT/bench/verify_bench.py" "$WORK/$engine" --revisions "$N" --engine "$engine" \
        --runs "$RUNS" --alembix "$BIN" --model-set "${MODEL_SET:-generated}")
    python3 - "$out" <<'PY'
import json, statistics, sys
r = json.loads(sys.argv[1])
a, p = statistics.median(r["alembix"]), statistics.median(r["pytest_alembic"])
ratio = a / p
print("%-9s %5d %14.2f %16.2f %7.2fx %s" % (r["engine"], r["revisions"], a, p, ratio,
      "met (<= 0.2x)" if ratio <= 0.2 else "MISSED (> 0.2x)"))
PY
done

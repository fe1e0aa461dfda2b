#!/usr/bin/env bash
# Benchmark alembix's read-only graph commands on large synthetic histories.
#
#   bench/graph.sh                 # 10,000 revisions, linear + branched
#   N=2000 RUNS=20 bench/graph.sh  # smaller / more runs
#
# Environment knobs:
#   N=10000      revisions per project
#   WARMUP=3     warmup runs per command (hyperfine --warmup)
#   RUNS=10      timed runs per command (hyperfine --runs)
#   RSS_RUNS=3   runs per command for peak-memory measurement (max taken)
#   SKIP_BUILD=1 do not run cargo build (use the existing target/release/alembix)
#   KEEP=1       keep the generated projects and raw results (path printed at the end)
#   NO_HYPERFINE=1  force the python timing loop even if hyperfine is installed
#
# See bench/README.md for what is measured and how to read the table.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${N:-10000}
WARMUP=${WARMUP:-3}
RUNS=${RUNS:-10}
RSS_RUNS=${RSS_RUNS:-3}
BIN="$ROOT/target/release/alembix"

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 1; }

TIMER=hyperfine
if [ -n "${NO_HYPERFINE:-}" ]; then
    TIMER=python
elif ! command -v hyperfine >/dev/null; then
    log "hyperfine not found; trying apt-get install hyperfine"
    if apt_install hyperfine && command -v hyperfine >/dev/null; then :; else
        log "hyperfine not installable; falling back to a python timing loop"
        TIMER=python
    fi
fi
if [ "$TIMER" = hyperfine ] && ! grep -q -- '--shell' <<<"$(hyperfine --help 2>/dev/null)"; then
    log "hyperfine too old for -N/--shell=none; using the python timing loop"
    TIMER=python
fi

RSS_TOOL=gnu-time
if [ ! -x /usr/bin/time ]; then
    log "/usr/bin/time not found; trying apt-get install time"
    apt_install time || true
    [ -x /usr/bin/time ] || { log "using python's resource module for peak RSS"; RSS_TOOL=python; }
fi

# ---------------------------------------------------------------------------- build
if [ -z "${SKIP_BUILD:-}" ]; then
    log "cargo build --release -p alembix-cli"
    (cd "$ROOT" && cargo build --release -p alembix-cli)
fi
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

# ---------------------------------------------------------------------------- projects
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alembix-bench.XXXXXX")
if [ -n "${KEEP:-}" ]; then
    trap 'log "kept $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi

PROJECTS=(linear branched)
for shape in "${PROJECTS[@]}"; do
    log "generating $shape history of $N revisions"
    python3 "$ROOT/bench/gen_revisions.py" "$shape" "$N" "$WORK/$shape"
done

# Sanity: every command must succeed, and `history` must list every revision.
for shape in "${PROJECTS[@]}"; do
    (
        cd "$WORK/$shape"
        "$BIN" heads >/dev/null
        "$BIN" show head >/dev/null
        lines=$("$BIN" history --no-graph | wc -l)
        [ "$lines" -eq "$N" ] || { echo "$shape: history --no-graph listed $lines of $N revisions" >&2; exit 1; }
    )
done

# ---------------------------------------------------------------------------- commands
# name|command line (split like a shell would, run without a shell, stdout+stderr to /dev/null).
# Baselines read the same N files:
#   cat-find: find + cat in batches (`-exec cat {} +`), no shell; the reference for the ratio.
#   cat-glob: `sh -c 'cat migrations/*.sql'`: adds a shell start-up and a sorted glob of N names.
qbin=$(printf '%q' "$BIN")
COMMANDS=(
    "cat-find|find migrations -name '*.sql' -exec cat {} +"
    "cat-glob|sh -c 'cat migrations/*.sql'"
    "heads|$qbin heads"
    "history|$qbin history"
    "show head|$qbin show head"
)

python_timer() {
    # Same JSON shape as `hyperfine --export-json` (results[].command/mean/stddev/min/max/times).
    python3 - "$WARMUP" "$RUNS" "$@" <<'PY'
import json, shlex, statistics, subprocess, sys, time
warmup, runs, out, *specs = sys.argv[1:]
warmup, runs = int(warmup), int(runs)
results = []
for spec in specs:
    name, cmd = spec.split("|", 1)
    argv = shlex.split(cmd)
    def once():
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t
    for _ in range(warmup):
        once()
    times = [once() for _ in range(runs)]
    results.append({"command": name, "mean": statistics.mean(times),
                    "stddev": statistics.stdev(times) if len(times) > 1 else 0.0,
                    "min": min(times), "max": max(times), "times": times})
json.dump({"results": results}, open(out, "w"))
PY
}

peak_rss_kb() {
    # Max over RSS_RUNS runs of the peak resident set size, in KiB.
    local best=0 kb
    for _ in $(seq "$RSS_RUNS"); do
        if [ "$RSS_TOOL" = gnu-time ]; then
            kb=$(eval "/usr/bin/time -f %M -o '$WORK/rss.tmp' $1" >/dev/null 2>&1; tail -n1 "$WORK/rss.tmp")
        else
            kb=$(python3 - "$1" <<'PY'
import resource, shlex, subprocess, sys
subprocess.run(shlex.split(sys.argv[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
)
        fi
        [ "$kb" -gt "$best" ] && best=$kb
    done
    echo "$best"
}

for shape in "${PROJECTS[@]}"; do
    cd "$WORK/$shape"
    log "timing $shape ($TIMER, warmup $WARMUP, runs $RUNS)"
    if [ "$TIMER" = hyperfine ]; then
        args=()
        for spec in "${COMMANDS[@]}"; do
            args+=(-n "${spec%%|*}" "${spec#*|}")
        done
        hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" \
            --export-json "$WORK/$shape.json" "${args[@]}" >/dev/null
    else
        python_timer "$WORK/$shape.json" "${COMMANDS[@]}"
    fi
    log "peak memory $shape ($RSS_TOOL, max of $RSS_RUNS)"
    : >"$WORK/$shape.rss"
    for spec in "${COMMANDS[@]}"; do
        name=${spec%%|*}
        case $name in cat-*) continue ;; esac
        printf '%s|%s\n' "$name" "$(peak_rss_kb "${spec#*|}")" >>"$WORK/$shape.rss"
    done
done
cd "$ROOT"

# ---------------------------------------------------------------------------- report
python3 - "$WORK" "$N" "$TIMER" "$RSS_TOOL" "${PROJECTS[@]}" <<'PY'
import json, sys
work, n, timer, rss_tool, *projects = sys.argv[1:]
HEADS_MS, HEADS_RATIO, RSS_MB = 50.0, 3.0, 50.0
print()
print(f"alembix graph benchmark: {n} revisions per project; timer: {timer}; peak RSS: {rss_tool}")
hdr = f"{'project':<9} {'command':<10} {'mean ms':>9} {'± ms':>7} {'x cat':>7} {'max RSS MB':>11}  target"
print(hdr)
print("-" * len(hdr))
misses = []
for p in projects:
    res = {r["command"]: r for r in json.load(open(f"{work}/{p}.json"))["results"]}
    rss = dict(line.rstrip("\n").split("|") for line in open(f"{work}/{p}.rss"))
    base = res["cat-find"]["mean"]
    for name, r in res.items():
        ms = r["mean"] * 1e3
        ratio = r["mean"] / base
        mb = f"{int(rss[name]) / 1024:.1f}" if name in rss else "-"
        verdict = ""
        if name in rss:
            checks = []
            if int(rss[name]) / 1024 >= RSS_MB:
                checks.append(f"RSS>={RSS_MB:.0f}MB")
            if name == "heads":
                if ms > HEADS_MS:
                    checks.append(f">{HEADS_MS:.0f}ms")
                if ratio > HEADS_RATIO:
                    checks.append(f">{HEADS_RATIO:.0f}x cat")
            verdict = "MISS " + ", ".join(checks) if checks else "ok"
            if checks:
                misses.append(f"{p} {name}: {', '.join(checks)}")
        print(f"{p:<9} {name:<10} {ms:>9.1f} {r['stddev'] * 1e3:>7.1f} {ratio:>7.2f} {mb:>11}  {verdict}")
    print()
print(f"targets: `heads` <= {HEADS_MS:.0f} ms and <= {HEADS_RATIO:.0f}x cat-find; every alembix command < {RSS_MB:.0f} MB peak RSS")
print("x cat = mean / mean of cat-find (find + cat of the same files, no shell).")
print("cat-glob adds `sh` start-up and a sorted glob expansion of the file names.")
if misses:
    print("missed:", "; ".join(misses))
else:
    print("all targets met")
PY

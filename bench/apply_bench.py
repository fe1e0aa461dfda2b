#!/usr/bin/env python3
"""Helper for bench/apply.sh: generate the project and the client scripts, run the timings, report.

    apply_bench.py gen    N DIR              # DIR/project (alembix.toml + N revision files) and DIR/sql/*.sql
    apply_bench.py run    DIR BIN RUNS OUT DIALECT...   # time alembix vs the client; write JSON to OUT
    apply_bench.py report OUT [CURRENT_JSON]             # print the table and check the targets

The project is linear: N revisions, each creating one table (up) and dropping it (down), with SQL that
runs unchanged on PostgreSQL, MariaDB and SQLite. For each dialect, the client scripts run the same
statements with one transaction per migration:

  bare:  BEGIN; <up>; COMMIT;                                               x N, then the downs in reverse
  book:  BEGIN; <up>; UPDATE version row; INSERT history row; COMMIT;       (the first up INSERTs the
         version row, the last down DELETEs it; the two tables are created first, in their own transaction)

"sqlx" (when `sqlx` from sqlx-cli is on PATH): the same up and down SQL as sqlx migrations
(`N_name.up.sql` / `.down.sql`, one transaction each), `sqlx migrate run` and
`sqlx migrate revert --target-version 0`, on the same URL: the peer of the issue's apply and downgrade rows.
"diesel" (when `diesel` from diesel_cli is on PATH): the same SQL as diesel migrations
(`DIR/diesel/NNNNNNNNNNNNNN_name/{up,down}.sql`, one transaction each), `diesel migration run` and
`diesel migration revert --all`, on the same URL (a plain file path for SQLite, as diesel takes it).

"book" is the work a migration tool has to do per step; alembix does DELETE+INSERT on its version table
and one INSERT into its history table per step.

Deterministic: revision ids are derived from the index.
"""
import datetime
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

PG_ADMIN = ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-d", "postgres",
            "-v", "ON_ERROR_STOP=1"]
MY_ADMIN = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root"]
DBNAME = "alembix_bench_apply"
# Migration tools timed beside alembix when their command is on PATH (sqlx-cli, diesel_cli).
PEERS = ("sqlx", "diesel")

# Each dialect: URL for alembix, command to run a script file (stdin or -f), fresh-database recipe.
DIALECTS = {
    "postgres": {
        "label": "PostgreSQL",
        "url": "postgres://postgres@127.0.0.1:5432/" + DBNAME,
        "client": lambda f, db: (PG_ADMIN[:-4] + ["-d", DBNAME, "-v", "ON_ERROR_STOP=1", "-f", f], None),
    },
    "mysql": {
        "label": "MariaDB",
        "url": "mysql://root@127.0.0.1:3306/" + DBNAME,
        "client": lambda f, db: (MY_ADMIN + [DBNAME], f),
    },
    "sqlite": {
        "label": "SQLite",
        "url": None,  # sqlite:<file>, set per run
        "client": lambda f, db: (["sqlite3", "-bail", db], f),
    },
}


def rev_id(i):
    return hashlib.sha256(b"alembix-bench-apply-%d" % i).hexdigest()[:12]


def up_sql(i):
    return ("CREATE TABLE t_%04d (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
            "created_at TIMESTAMP NULL)" % i)


def down_sql(i):
    return "DROP TABLE t_%04d" % i


# ---------------------------------------------------------------------------------------------- gen
def gen(n, out):
    proj = os.path.join(out, "project")
    mig = os.path.join(proj, "migrations")
    os.makedirs(mig, exist_ok=True)
    open(os.path.join(proj, "alembix.toml"), "w").close()
    t0 = datetime.datetime(2024, 1, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)
    for i in range(1, n + 1):
        parent = rev_id(i - 1) if i > 1 else ""
        date = t0 + datetime.timedelta(minutes=7 * i)
        text = "\n".join([
            "-- Create table t_%04d" % i,
            "--",
            "-- Revision ID: %s" % rev_id(i),
            "-- Revises: %s" % parent,
            "-- Create Date: %s" % date.strftime("%Y-%m-%d %H:%M:%S.%f+00:00"),
            "",
            "-- migrate:up",
            up_sql(i) + ";",
            "",
            "-- migrate:down",
            down_sql(i) + ";",
            "",
        ])
        with open(os.path.join(mig, "%s_create_table_t_%04d.sql" % (rev_id(i), i)), "w") as f:
            f.write(text)

    sqlxdir = os.path.join(out, "sqlx")
    os.makedirs(sqlxdir, exist_ok=True)
    for i in range(1, n + 1):
        for kind, sql in (("up", up_sql(i)), ("down", down_sql(i))):
            with open(os.path.join(sqlxdir, "%d_create_table_t_%04d.%s.sql" % (i, i, kind)), "w") as f:
                f.write(sql + ";\n")

    # diesel: one directory per migration, named by a 14-digit version so that they sort in order.
    dieseldir = os.path.join(out, "diesel")
    for i in range(1, n + 1):
        d = os.path.join(dieseldir, "%014d_create_table_t_%04d" % (i, i))
        os.makedirs(d, exist_ok=True)
        for kind, sql in (("up", up_sql(i)), ("down", down_sql(i))):
            with open(os.path.join(d, "%s.sql" % kind), "w") as f:
                f.write(sql + ";\n")

    sqldir = os.path.join(out, "sql")
    os.makedirs(sqldir, exist_ok=True)
    ver, hist = "bench_version", "bench_history"
    ddl = {
        "postgres": "id BIGSERIAL PRIMARY KEY",
        "mysql": "id BIGINT AUTO_INCREMENT PRIMARY KEY",
        "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
    }

    def hist_insert(i, direction):
        return ("INSERT INTO %s (revision, direction, started_at, duration_ms) VALUES ('%s', '%s', '%s', 0)"
                % (hist, rev_id(i), direction, "2024-01-01 00:00:00.000000+00:00"))

    for d in DIALECTS:
        begin = "START TRANSACTION" if d == "mysql" else "BEGIN"
        w = lambda name, lines: open(os.path.join(sqldir, "%s.%s.sql" % (d, name)), "w").write(
            "".join(l + ";\n" for l in lines))
        up, down, bup, bdown = [], [], [], []
        bup += [begin,
                "CREATE TABLE %s (version_num VARCHAR(32) NOT NULL PRIMARY KEY)" % ver,
                "CREATE TABLE %s (%s, revision VARCHAR(32) NOT NULL, direction VARCHAR(8) NOT NULL, "
                "started_at VARCHAR(40) NOT NULL, duration_ms BIGINT NOT NULL)" % (hist, ddl[d]),
                "COMMIT"]
        for i in range(1, n + 1):
            up += [begin, up_sql(i), "COMMIT"]
            vrow = ("INSERT INTO %s (version_num) VALUES ('%s')" % (ver, rev_id(i)) if i == 1 else
                    "UPDATE %s SET version_num = '%s' WHERE version_num = '%s'" % (ver, rev_id(i), rev_id(i - 1)))
            bup += [begin, up_sql(i), vrow, hist_insert(i, "up"), "COMMIT"]
        for i in range(n, 0, -1):
            down += [begin, down_sql(i), "COMMIT"]
            vrow = ("DELETE FROM %s WHERE version_num = '%s'" % (ver, rev_id(i)) if i == 1 else
                    "UPDATE %s SET version_num = '%s' WHERE version_num = '%s'" % (ver, rev_id(i - 1), rev_id(i)))
            bdown += [begin, down_sql(i), vrow, hist_insert(i, "down"), "COMMIT"]
        w("bare.up", up)
        w("bare.down", down)
        w("book.up", bup)
        w("book.down", bdown)
    print("generated %d revisions in %s and client scripts in %s" % (n, mig, sqldir), file=sys.stderr)


# ---------------------------------------------------------------------------------------------- run
def sh(argv, stdin_path=None, check=True):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    try:
        p = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        if stdin_path:
            stdin.close()
    if check and p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s%s" % (p.returncode, " ".join(argv),
                                                     p.stdout.decode(errors="replace"),
                                                     p.stderr.decode(errors="replace")))
    return p


def timed(argv, stdin_path=None, cwd=None):
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    t = time.perf_counter()
    p = subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    dt = time.perf_counter() - t
    if stdin_path:
        stdin.close()
    if p.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (p.returncode, " ".join(argv), p.stderr.decode(errors="replace")))
    return dt


def fresh(d, work):
    """Drop and recreate the benchmark database; return the SQLite file path (or None)."""
    if d == "postgres":
        sh(PG_ADMIN + ["-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % DBNAME])
        sh(PG_ADMIN + ["-c", "CREATE DATABASE %s" % DBNAME])
        return None
    if d == "mysql":
        sh(MY_ADMIN + ["-e", "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s" % (DBNAME, DBNAME)])
        return None
    db = os.path.join(work, "bench.db")
    for suffix in ("", "-journal", "-wal", "-shm", ".alembix-lock"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return db


def count_tables(d, db):
    q = {
        "postgres": (PG_ADMIN[:-4] + ["-d", DBNAME, "-Atc",
                     "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't\\_%'"], None),
        "mysql": (MY_ADMIN + ["-N", "-e", "SELECT count(*) FROM information_schema.TABLES WHERE "
                  "TABLE_SCHEMA = '%s' AND TABLE_NAME LIKE 't\\_%%'" % DBNAME], None),
        "sqlite": (["sqlite3", db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'"], None),
    }[d]
    return int(sh(q[0]).stdout.decode().strip())


def run(work, binary, runs, out, dialects):
    binary = os.path.abspath(binary)
    proj = os.path.join(work, "project")
    n = len(os.listdir(os.path.join(proj, "migrations")))
    results = {}
    for d in dialects:
        spec = DIALECTS[d]
        methods = ("alembix", "bare", "book") + tuple(p for p in PEERS if shutil.which(p))
        res = {m: {"up": [], "down": []} for m in methods}
        for r in range(runs):
            for method in methods:
                db = fresh(d, work)
                url = spec["url"] or "sqlite:" + db
                if method == "sqlx":
                    if db:
                        open(db, "w").close()  # sqlx-cli does not create the file (and would make it WAL)
                    src = ["--source", os.path.join(work, "sqlx"), "-D", url, "--no-dotenv"]
                    up = timed(["sqlx", "migrate", "run"] + src)
                    assert count_tables(d, db) == n, "%s: sqlx did not create %d tables" % (d, n)
                    down = timed(["sqlx", "migrate", "revert", "--target-version", "0"] + src)
                elif method == "diesel":
                    # diesel reads no diesel.toml here (the work directory has none), so it writes no schema.rs.
                    src = ["--migration-dir", os.path.join(work, "diesel"), "--database-url", db or url]
                    up = timed(["diesel", "migration", "run"] + src, cwd=work)
                    assert count_tables(d, db) == n, "%s: diesel did not create %d tables" % (d, n)
                    down = timed(["diesel", "migration", "revert", "--all"] + src, cwd=work)
                elif method == "alembix":
                    up = timed([binary, "--url", url, "-q", "upgrade", "head"], cwd=proj)
                    assert count_tables(d, db) == n, "%s: upgrade did not create %d tables" % (d, n)
                    down = timed([binary, "--url", url, "-q", "downgrade", "base"], cwd=proj)
                else:
                    argv, stdin = spec["client"](os.path.join(work, "sql", "%s.%s.up.sql" % (d, method)), db)
                    up = timed(argv, stdin)
                    assert count_tables(d, db) == n, "%s: %s script did not create %d tables" % (d, method, n)
                    argv, stdin = spec["client"](os.path.join(work, "sql", "%s.%s.down.sql" % (d, method)), db)
                    down = timed(argv, stdin)
                assert count_tables(d, db) == 0, "%s %s: tables left after down" % (d, method)
                res[method]["up"].append(up)
                res[method]["down"].append(down)
                print("    %-8s run %d/%d %-7s up %.3f s  down %.3f s" % (spec["label"], r + 1, runs, method, up, down),
                      file=sys.stderr)
        results[d] = res
        fresh(d, work)  # leave nothing behind on the servers
        if d != "sqlite":
            drop = {"postgres": PG_ADMIN + ["-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % DBNAME],
                    "mysql": MY_ADMIN + ["-e", "DROP DATABASE IF EXISTS %s" % DBNAME]}[d]
            sh(drop)
    json.dump({"n": n, "runs": runs, "results": results}, open(out, "w"), indent=1)


# ---------------------------------------------------------------------------------------------- report
TARGET_RATIO = {"postgres": 1.1, "mysql": 1.1, "sqlite": 1.2}
CURRENT_MS = 5.0


def report(out, current_json=None):
    data = json.load(open(out))
    n, runs = data["n"], data["runs"]
    print()
    print("alembix apply benchmark: %d one-table migrations, linear; median of %d runs, fresh database each run"
          % (n, runs))
    hdr = "%-10s %-9s %10s %12s %12s %7s %7s %9s %7s %9s %8s  %s" % (
        "dialect", "operation", "alembix s", "client bare", "client book", "x bare", "x book", "sqlx s", "x sqlx",
        "diesel s", "x diesel", "target")
    print(hdr)
    print("-" * len(hdr))
    misses = []
    for d, res in data["results"].items():
        label = DIALECTS[d]["label"]
        for op in ("up", "down", "up+down"):
            def med(m):
                if op == "up+down":
                    return statistics.median(u + w for u, w in zip(res[m]["up"], res[m]["down"]))
                return statistics.median(res[m][op])
            a, b, k = med("alembix"), med("bare"), med("book")
            verdict = ""
            if op == "up+down":
                t = TARGET_RATIO[d]
                verdict = "ok (<= %.1fx)" % t if a / b <= t else "MISS (> %.1fx)" % t
                if a / b > t:
                    misses.append("%s up+down %.2fx bare (target %.1fx)" % (label, a / b, t))
            peers = []
            for p, width in (("sqlx", 7), ("diesel", 8)):
                if p in res:
                    x = med(p)
                    peers.append("%9.3f %*.2f" % (x, width, a / x))
                    if a > x:
                        misses.append("%s %s behind %s (%.2fx)" % (label, op, p, a / x))
                else:
                    peers.append("%9s %*s" % ("n/a", width, ""))
            print("%-10s %-9s %10.3f %12.3f %12.3f %7.2f %7.2f %s  %s" % (label, op, a, b, k, a / b, a / k,
                                                                       " ".join(peers), verdict))
        print()
    if current_json and os.path.exists(current_json):
        res = {r["command"]: r for r in json.load(open(current_json))["results"]}
        a, b = res["alembix current"], res["sqlite3 select"]
        ms = a["mean"] * 1e3
        verdict = "ok (< %.0f ms)" % CURRENT_MS if ms < CURRENT_MS else "MISS (>= %.0f ms)" % CURRENT_MS
        if ms >= CURRENT_MS:
            misses.append("SQLite current %.1f ms (target < %.0f ms)" % (ms, CURRENT_MS))
        print("SQLite at head (%d revisions), hyperfine mean ± stddev:" % n)
        print("  %-53s %6.2f ms ± %.2f  %s" % ("alembix current", ms, a["stddev"] * 1e3, verdict))
        print("  %-53s %6.2f ms ± %.2f  (alembix x %.2f)" % ("sqlite3 db 'SELECT version_num FROM alembix_version'",
              b["mean"] * 1e3, b["stddev"] * 1e3, a["mean"] / b["mean"]))
        print()
    print("x bare / x book = alembix / client (bare, with bookkeeping). Targets (issue): up+down within 1.1x of the")
    print("raw client (bare) on PostgreSQL and MariaDB, 1.2x on SQLite; `alembix current` on SQLite < %.0f ms." % CURRENT_MS)
    print("x sqlx = alembix / `sqlx migrate run` (up) and `sqlx migrate revert --target-version 0` (down), same URL;")
    print("x diesel = alembix / `diesel migration run` (up) and `diesel migration revert --all` (down), same database;")
    print("the issue wants alembix ahead of every peer (n/a: sqlx-cli / diesel_cli not installed).")
    if misses:
        print("missed:", "; ".join(misses))
    else:
        print("all targets met")


def main():
    cmd, *args = sys.argv[1:]
    if cmd == "gen":
        gen(int(args[0]), args[1])
    elif cmd == "run":
        run(args[0], args[1], int(args[2]), args[3], args[4:])
    elif cmd == "report":
        report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

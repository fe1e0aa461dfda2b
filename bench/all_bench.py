#!/usr/bin/env python3
"""Helper for bench/all.sh: one row per workload of issue #11, each as a ratio to the peer or raw client timed
in the same run (rounds interleaved, so load drift hits both sides alike).

    all_bench.py ROOT BIN WORK GROUP...      # GROUP: read pg apply autogen

Short commands are timed as whole processes, median of RUNS rounds after 2 warm-up rounds (the warm-up also
fills alembix's header index, which trusts files only some seconds after they changed: the projects are
generated, then left 4 s before timing). apply and autogen reuse apply_bench.py and autogen.sh; autogen also
times `check --live` with no cache (a fresh scratch database every run: the edit-autogenerate loop) against
the database's own client creating a database, running the DDL and dropping it.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT, BIN, WORK, *GROUPS = sys.argv[1:]
RUNS = int(os.environ.get("RUNS", "15"))
PG_URL = os.environ["PG_URL"]
PG_BENCH = PG_URL.rsplit("/", 1)[0] + "/alembix_bench_all"
rows = []  # (workload, alembix s, peer name, peer s or None, target text, met or None)


def log(msg):
    print("==> " + msg, file=sys.stderr, flush=True)


def gen(shape, n, name):
    d = os.path.join(WORK, name)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_revisions.py"), shape, str(n), d],
                   check=True, stdout=subprocess.DEVNULL)
    return d


def once(argv, cwd):
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def compare(cmds, cwd, runs=RUNS, warmup=2):
    """Median seconds of each command in `cmds` (name -> argv), interleaved round by round."""
    times = {k: [] for k in cmds}
    for r in range(warmup + runs):
        for k, argv in cmds.items():
            t = once(argv, cwd)
            if r >= warmup:
                times[k].append(t)
    return {k: statistics.median(v) for k, v in times.items()}


def row(workload, a, peer, p, target, met):
    rows.append((workload, a, peer, p, target, met))


def missing(tool):
    return shutil.which(tool) is None


def read_rows():
    log("read commands: generating 10,000 and 50,000 linear revisions and a 500-revision SQLite project")
    p10k, p50k = gen("linear", 10000, "lin10k"), gen("linear", 50000, "lin50k")
    ap = os.path.join(WORK, "ap500")
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "apply_bench.py"), "gen", "500", ap],
                   check=True, stdout=subprocess.DEVNULL)
    proj, db = os.path.join(ap, "project"), os.path.join(ap, "current.db")
    subprocess.run([BIN, "--url", "sqlite:" + db, "-q", "upgrade", "head"], cwd=proj, check=True)
    time.sleep(4)  # the header index trusts files changed more than 3 s ago
    cat = ["find", "migrations", "-name", "*.sql", "-exec", "cat", "{}", "+"]
    m = compare({"heads": [BIN, "heads"], "cat": cat}, p10k)
    row("heads, 10,000 revisions", m["heads"], "find+cat", m["cat"], "<= 50 ms", m["heads"] <= 0.050)
    m = compare({"heads": [BIN, "heads"], "cat": cat}, p50k, runs=max(3, RUNS // 3))
    row("heads, 50,000 revisions", m["heads"], "find+cat", m["cat"], "< 250 ms", m["heads"] < 0.250)
    m = compare({"current": [BIN, "--url", "sqlite:" + db, "current"],
                 "sqlite3": ["sqlite3", db, "select 1"],
                 "read": ["sqlite3", db, "select version_num from alembix_version"]}, proj)
    row("current, SQLite, 500 revisions", m["current"], "sqlite3 'select 1'", m["sqlite3"],
        "<= 1.5x", m["current"] <= 1.5 * m["sqlite3"])
    # Like for like: any query on a table makes SQLite parse the schema (here 500 tables); `select 1` does not.
    row("current, SQLite, 500 revisions", m["current"], "sqlite3 'select … alembix_version'", m["read"],
        "", None)


def pg_rows():
    if missing("psql"):
        row("current, PostgreSQL (TLS prefer)", None, "psql (not installed)", None, "", None)
        return
    admin = ["psql", "-X", "-q", PG_URL, "-v", "ON_ERROR_STOP=1"]
    ssl = subprocess.run(admin + ["-Atc", "SHOW ssl"], capture_output=True, text=True)
    if ssl.returncode != 0:
        row("current, PostgreSQL", None, "server unreachable", None, "", None)
        return
    tls = "TLS" if ssl.stdout.strip() == "on" else "server has ssl=off, so no TLS"
    subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_all WITH (FORCE)",
                            "-c", "CREATE DATABASE alembix_bench_all"], check=True, stdout=subprocess.DEVNULL)
    log("PostgreSQL: 5,000 revisions stamped at head")
    p5k = gen("linear", 5000, "lin5k")
    subprocess.run([BIN, "--url", PG_BENCH, "-q", "stamp", "head"], cwd=p5k, check=True)
    time.sleep(4)
    peers = {"psql": ["psql", "-X", PG_BENCH, "-Atc", "SELECT version_num FROM alembix_version"]}
    m = compare({"current": [BIN, "--url", PG_BENCH, "current"], **peers}, p5k)
    row("current, PostgreSQL, sslmode=prefer (%s)" % tls, m["current"], "psql same URL", m["psql"],
        "<= 1.0x psql", m["current"] <= m["psql"])
    nossl = PG_BENCH + "?sslmode=disable"
    m = compare({"current": [BIN, "--url", nossl, "current"],
                 "psql": ["psql", "-X", nossl, "-Atc", "SELECT version_num FROM alembix_version"]}, p5k)
    row("current, PostgreSQL, sslmode=disable", m["current"], "psql same URL", m["psql"], "", None)
    # dbmate keeps its own layout: 5,000 migration files and its schema_migrations table with all of them
    # applied, in a database of its own on the same server.
    if missing("dbmate"):
        row("current/heads, PostgreSQL, 5,000 revisions", None, "dbmate status (not installed)", None, "", None)
        m = compare({"heads": [BIN, "heads"]}, p5k)
        row("heads, 5,000 revisions", m["heads"], "", None, "", None)
    else:
        dbm = os.path.join(WORK, "dbmate")
        os.makedirs(os.path.join(dbm, "db", "migrations"), exist_ok=True)
        versions = ["2026%010d" % i for i in range(1, 5001)]
        for v in versions:
            with open(os.path.join(dbm, "db", "migrations", v + "_t.sql"), "w") as f:
                f.write("-- migrate:up\nCREATE TABLE t%s (id int);\n\n-- migrate:down\nDROP TABLE t%s;\n" % (v, v))
        subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_dbmate WITH (FORCE)",
                                "-c", "CREATE DATABASE alembix_bench_dbmate"], check=True,
                       stdout=subprocess.DEVNULL)
        dbm_url = PG_BENCH.rsplit("/", 1)[0] + "/alembix_bench_dbmate"
        rows_sql = "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);\n" + "".join(
            "INSERT INTO schema_migrations VALUES ('%s');\n" % v for v in versions)
        subprocess.run(["psql", "-X", "-q", dbm_url], input=rows_sql, text=True, check=True)
        dbmate = ["dbmate", "--url", dbm_url + ("&" if "?" in dbm_url else "?") + "sslmode=prefer",
                  "--migrations-dir", os.path.join(dbm, "db", "migrations"), "--no-dump-schema"]
        m = compare({"current": [BIN, "--url", PG_BENCH, "current"], "heads": [BIN, "heads"],
                     "upgrade": [BIN, "--url", PG_BENCH, "upgrade", "head"],
                     "dbmate": dbmate + ["status"], "dbmate_up": dbmate + ["migrate"]}, p5k)
        row("current, PostgreSQL, 5,000 revisions", m["current"], "dbmate status", m["dbmate"],
            "ahead of dbmate", m["current"] < m["dbmate"])
        row("heads, 5,000 revisions", m["heads"], "dbmate status", m["dbmate"], "ahead of dbmate",
            m["heads"] < m["dbmate"])
        # Not a row of the issue: what every replica runs at start, nearly always with nothing to do.
        row("upgrade head, nothing to do, PostgreSQL, 5,000 revisions", m["upgrade"], "dbmate migrate",
            m["dbmate_up"], "ahead of dbmate", m["upgrade"] < m["dbmate_up"])
        subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_dbmate WITH (FORCE)"],
                       stdout=subprocess.DEVNULL)
    if missing("sqlx"):
        row("current/heads, PostgreSQL, 5,000 revisions", None, "sqlx migrate info (not installed)", None, "", None)
    else:
        # sqlx's own layout: 5,000 migrations applied by `sqlx migrate run`, in a database of its own.
        log("PostgreSQL: 5,000 sqlx migrations applied (sqlx migrate run)")
        sq = os.path.join(WORK, "sqlx5k")
        os.makedirs(sq, exist_ok=True)
        for i in range(1, 5001):
            with open(os.path.join(sq, "%d_t.sql" % i), "w") as f:
                f.write("SELECT %d;\n" % i)
        subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_sqlx WITH (FORCE)",
                                "-c", "CREATE DATABASE alembix_bench_sqlx"], check=True, stdout=subprocess.DEVNULL)
        sqlx = ["--source", sq, "-D", PG_BENCH.rsplit("/", 1)[0] + "/alembix_bench_sqlx", "--no-dotenv"]
        subprocess.run(["sqlx", "migrate", "run"] + sqlx, check=True, stdout=subprocess.DEVNULL)
        m = compare({"current": [BIN, "--url", PG_BENCH, "current"],
                     "upgrade": [BIN, "--url", PG_BENCH, "upgrade", "head"],
                     "info": ["sqlx", "migrate", "info"] + sqlx, "run": ["sqlx", "migrate", "run"] + sqlx}, p5k)
        row("current, PostgreSQL, 5,000 revisions (%s)" % tls, m["current"], "sqlx migrate info same URL",
            m["info"], "<= 1.2x sqlx", m["current"] <= 1.2 * m["info"])
        row("upgrade head, nothing to do, PostgreSQL, 5,000 revisions", m["upgrade"], "sqlx migrate run",
            m["run"], "ahead of sqlx", m["upgrade"] < m["run"])
        subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_sqlx WITH (FORCE)"],
                       stdout=subprocess.DEVNULL)


def apply_rows():
    log("SQLite: apply and downgrade 500 one-table migrations (apply_bench.py)")
    ap = os.path.join(WORK, "apply")
    helper = os.path.join(ROOT, "bench", "apply_bench.py")
    subprocess.run([sys.executable, helper, "gen", "500", ap], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(WORK, "apply.json")
    subprocess.run([sys.executable, helper, "run", ap, BIN, os.environ.get("APPLY_RUNS", "3"), out, "sqlite"],
                   check=True, stderr=subprocess.DEVNULL)
    res = json.load(open(out))["results"]["sqlite"]
    med = lambda m, op: statistics.median(res[m][op])
    for op, label in (("up", "apply 500, SQLite, one transaction each"), ("down", "downgrade 500 to base, SQLite")):
        a, b = med("alembix", op), med("bare", op)
        row(label, a, "sqlite3 bare", b, "<= 1.2x", a <= 1.2 * b)
        row(label, a, "sqlite3 + bookkeeping", med("book", op), "", None)


def ddl(n, dialect):
    numeric = "DECIMAL(12,2)" if dialect == "mysql" else "NUMERIC(12,2)"
    out = []
    for i in range(1, n + 1):
        parent = "t_%03d" % max(i - 1, 1)
        out.append("CREATE TABLE t_%03d (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES %s (id), "
                   "name VARCHAR(100) NOT NULL, code VARCHAR(20), qty INTEGER DEFAULT 0, price %s, "
                   "created TIMESTAMP NULL, note TEXT);" % (i, parent, numeric))
        out.append("CREATE INDEX ix_t_%03d_code ON t_%03d (code);" % (i, i))
    return "\n".join(out) + "\n"


def cold_rows():
    """The edit-autogenerate loop's server cost: `check --live` with no cache (the declared schema is built on a
    fresh scratch database each run) against the database's own client doing the least that design needs."""
    n = int(os.environ.get("AUTOGEN_N", "10"))
    my_url = os.environ["MYSQL_URL"]
    my = ["mariadb", "-h", "127.0.0.1", "-P", "3306", "-u", "root"]
    engines = [("postgres", "PostgreSQL", PG_URL.rsplit("/", 1)[0] + "/alembix_bench_all_live"),
               ("mysql", "MariaDB", my_url.rsplit("/", 1)[0] + "/alembix_bench_all_live")]
    for d, label, live in engines:
        client = "psql" if d == "postgres" else "mariadb"
        if missing(client):
            row("check --live, cold, %s, %d tables" % (label, n), None, client + " (not installed)", None, "", None)
            continue
        proj = os.path.join(WORK, "cold-" + d)
        os.makedirs(os.path.join(proj, "migrations"), exist_ok=True)
        text = ddl(n, d)
        open(os.path.join(proj, "schema.sql"), "w").write(text)
        open(os.path.join(proj, "alembix.toml"), "w").write('migrations = "migrations"\nschema = "schema.sql"\n')
        open(os.path.join(proj, "migrations", "aaaaaaaaaaaa_init.sql"), "w").write(
            "-- init\n-- Revision ID: aaaaaaaaaaaa\n-- Revises:\n\n-- migrate:up\n" + text)
        schema = os.path.join(proj, "schema.sql")
        if d == "postgres":
            admin = ["psql", "-X", "-q", PG_URL, "-v", "ON_ERROR_STOP=1"]
            reset = admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_all_live WITH (FORCE)",
                             "-c", "CREATE DATABASE alembix_bench_all_live"]
            floor = ["sh", "-c", "psql -X -q '%s' -c 'CREATE DATABASE alembix_bench_all_s' && "
                     "psql -X -q -v ON_ERROR_STOP=1 '%s' -f '%s' && "
                     "psql -X -q '%s' -c 'DROP DATABASE alembix_bench_all_s WITH (FORCE)'"
                     % (PG_URL, PG_URL.rsplit("/", 1)[0] + "/alembix_bench_all_s", schema, PG_URL)]
            cleanup = admin + ["-c", "DROP DATABASE IF EXISTS alembix_bench_all_live WITH (FORCE)"]
        else:
            reset = my + ["-e", "DROP DATABASE IF EXISTS alembix_bench_all_live; CREATE DATABASE alembix_bench_all_live"]
            floor = ["sh", "-c", "%s -e 'CREATE DATABASE alembix_bench_all_s' && %s alembix_bench_all_s < '%s' && "
                     "%s -e 'DROP DATABASE alembix_bench_all_s'" % (" ".join(my), " ".join(my), schema, " ".join(my))]
            cleanup = my + ["-e", "DROP DATABASE IF EXISTS alembix_bench_all_live"]
        if subprocess.run(reset, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            row("check --live, cold, %s, %d tables" % (label, n), None, "server unreachable", None, "", None)
            continue
        try:
            subprocess.run([BIN, "--url", live, "-q", "upgrade", "head"], cwd=proj, check=True)
            cold = [BIN, "--url", live, "-q", "check", "--live"]
            env = dict(os.environ, ALEMBIX_NO_CACHE="1")
            times = {"cold": [], "floor": []}
            for r in range(1 + int(os.environ.get("AUTOGEN_RUNS", "3"))):
                t = time.perf_counter()
                subprocess.run(cold, cwd=proj, env=env, check=True, stdout=subprocess.DEVNULL)
                a = time.perf_counter() - t
                b = once(floor, proj)
                if r:
                    times["cold"].append(a)
                    times["floor"].append(b)
            a, b = statistics.median(times["cold"]), statistics.median(times["floor"])
            row("check --live, cold, %s, %d tables" % (label, n), a, client + ": create db, DDL, drop", b, "", None)
        finally:
            subprocess.run(cleanup, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def autogen_rows():
    log("autogenerate loop: bench/autogen.sh (N=%s, cold schema cache not forced: see its README)"
        % os.environ.get("AUTOGEN_N"))
    env = dict(os.environ, SKIP_BUILD="1", SKIP_INSPECT="1", N=os.environ.get("AUTOGEN_N", "10"),
               RUNS=os.environ.get("AUTOGEN_RUNS", "3"), DIALECTS="postgres mysql")
    p = subprocess.run([os.path.join(ROOT, "bench", "autogen.sh")], env=env, capture_output=True, text=True)
    print(p.stdout)
    if p.returncode != 0:
        print(p.stderr[-2000:], file=sys.stderr)
        row("autogenerate loop", None, "autogen.sh failed (see above)", None, "", None)
    cold_rows()


for g in GROUPS:
    {"read": read_rows, "pg": pg_rows, "apply": apply_rows, "autogen": autogen_rows, "cold": cold_rows}[g]()

print()
print("issue #11 workloads; wall clock, whole processes, median; the peer timed in the same run")
hdr = "%-52s %10s  %-32s %10s %7s  %s" % ("workload", "alembix", "peer / raw client", "peer", "ratio", "target")
print(hdr)
print("-" * len(hdr))
ms = lambda s: "%8.1f ms" % (s * 1e3) if s is not None else "%10s" % "-"
for workload, a, peer, p, target, met in rows:
    ratio = "%6.2fx" % (a / p) if a is not None and p else "%7s" % "-"
    verdict = "" if met is None else ("ok" if met else "MISS")
    print("%-52s %10s  %-32s %10s %7s  %s %s" % (workload, ms(a), peer, ms(p), ratio, target, verdict))

#!/usr/bin/env python3
"""PostgreSQL across a network: the short commands through a local proxy that delays every chunk of bytes,
so that each round trip costs what it does to a database in another building (or behind a cloud pooler).
On loopback a round trip costs ~0.1 ms and the commands are bound by CPU; over a network they are bound
by round trips, which is where connections, TLS handshakes and one-query-per-check designs show.

    bench/latency.py BIN [WORK]

Environment knobs:
    RTT_MS=10        added round-trip time (half on each direction)
    RUNS=15          timed rounds (median reported), after 2 warm-up rounds, interleaved
    PG_URL=postgres://postgres@127.0.0.1:5432/postgres   the server (TLS as it is configured: sslmode=prefer)
    BASELINE_BIN=    another alembix binary to time beside BIN (before/after a change)

Rows: `current` and `upgrade head` with nothing to do, 500 revisions at head, against `psql` reading the
version table, `sqlx migrate info` / `sqlx migrate run` (500 migrations applied) and `dbmate status` /
`dbmate migrate` (500 applied), each on its own database of the same server through the same proxy. A
peer that is not installed is named as such.
"""
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN = os.path.abspath(sys.argv[1])
WORK = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="alembix-latency.")
RTT = float(os.environ.get("RTT_MS", "10")) / 1000.0
RUNS = int(os.environ.get("RUNS", "15"))
PG_URL = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
BASELINE = os.environ.get("BASELINE_BIN")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 500


def log(msg):
    print("==> " + msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------ the proxy
async def _pipe(reader, writer, delay):
    queue = asyncio.Queue()

    async def read():
        while True:
            data = await reader.read(65536)
            await queue.put((time.monotonic() + delay, data))
            if not data:
                return

    async def write():
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                try:
                    writer.write_eof()
                except (OSError, RuntimeError):
                    pass
                return
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(read(), write())
    except (OSError, ConnectionError):
        pass
    finally:
        writer.close()


def start_proxy(host, port, delay):
    """Listen on a free local port; forward to host:port, each direction `delay` seconds late."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    bound = {}

    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, server_writer, delay), _pipe(server_reader, client_writer, delay))

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        bound["port"] = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True).start()
    ready.wait(10)
    return bound["port"]


# ------------------------------------------------------------------------------------------ timing
def once(argv, cwd):
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def compare(cmds, cwd):
    times = {k: [] for k in cmds}
    for r in range(2 + RUNS):
        for k, (argv, where) in cmds.items():
            t = once(argv, where or cwd)
            if r >= 2:
                times[k].append(t)
    return {k: statistics.median(v) for k, v in times.items()}


def with_db(url, db, port=None):
    u = urllib.parse.urlsplit(url)
    netloc = u.netloc
    if port is not None:
        netloc = netloc.rsplit("@", 1)[0] + "@127.0.0.1:%d" % port if "@" in netloc else "127.0.0.1:%d" % port
    return urllib.parse.urlunsplit((u.scheme, netloc, "/" + db, u.query, ""))


def main():
    admin = ["psql", "-X", "-q", PG_URL, "-v", "ON_ERROR_STOP=1"]
    if shutil.which("psql") is None or subprocess.run(admin + ["-c", "SELECT 1"],
                                                      stdout=subprocess.DEVNULL).returncode != 0:
        sys.exit("latency.py: psql cannot reach %s" % PG_URL)
    u = urllib.parse.urlsplit(PG_URL)
    port = start_proxy(u.hostname or "127.0.0.1", u.port or 5432, RTT / 2)
    log("proxy on 127.0.0.1:%d adds %.0f ms of round trip to %s:%d" % (port, RTT * 1000, u.hostname, u.port or 5432))
    dbs = ["alembix_bench_lat", "alembix_bench_lat_sqlx", "alembix_bench_lat_dbmate"]
    for db in dbs:
        subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db, "-c", "CREATE DATABASE %s" % db],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run(port, admin)
    finally:
        for db in dbs:
            subprocess.run(admin + ["-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % db],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(port, admin):
    ap = os.path.join(WORK, "ap%d" % N)
    subprocess.run([sys.executable, os.path.join(ROOT, "bench", "apply_bench.py"), "gen", str(N), ap],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proj = os.path.join(ap, "project")
    direct = with_db(PG_URL, "alembix_bench_lat")
    far = with_db(PG_URL, "alembix_bench_lat", port)
    log("applying %d revisions (directly), then timing through the proxy" % N)
    subprocess.run([BIN, "--url", direct, "-q", "upgrade", "head"], cwd=proj, check=True)
    time.sleep(4)  # the header index trusts files some seconds after they changed
    cmds = {
        "current": ([BIN, "--url", far, "current"], None),
        "upgrade": ([BIN, "--url", far, "upgrade", "head"], None),
        "psql": (["psql", "-X", far, "-Atc", "SELECT version_num FROM alembix_version"], None),
    }
    if BASELINE:
        cmds["base current"] = ([BASELINE, "--url", far, "current"], None)
        cmds["base upgrade"] = ([BASELINE, "--url", far, "upgrade", "head"], None)
    if shutil.which("sqlx"):
        sq = os.path.join(ap, "sqlx")  # apply_bench.py wrote the same migrations in sqlx's layout
        src = ["--source", sq, "--no-dotenv", "-D"]
        subprocess.run(["sqlx", "migrate", "run"] + src + [with_db(PG_URL, "alembix_bench_lat_sqlx")], check=True,
                       stdout=subprocess.DEVNULL)
        far_sqlx = with_db(PG_URL, "alembix_bench_lat_sqlx", port)
        cmds["sqlx info"] = (["sqlx", "migrate", "info"] + src + [far_sqlx], None)
        cmds["sqlx run"] = (["sqlx", "migrate", "run"] + src + [far_sqlx], None)
    if shutil.which("dbmate"):
        mig = os.path.join(WORK, "dbmate", "db", "migrations")
        os.makedirs(mig, exist_ok=True)
        versions = ["2026%010d" % i for i in range(1, N + 1)]
        for v in versions:
            with open(os.path.join(mig, v + "_t.sql"), "w") as f:
                f.write("-- migrate:up\nCREATE TABLE t%s (id int);\n\n-- migrate:down\nDROP TABLE t%s;\n" % (v, v))
        rows = "CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);\n" + "".join(
            "INSERT INTO schema_migrations VALUES ('%s');\n" % v for v in versions)
        subprocess.run(["psql", "-X", "-q", with_db(PG_URL, "alembix_bench_lat_dbmate")], input=rows, text=True,
                       check=True, stdout=subprocess.DEVNULL)
        far_dbm = with_db(PG_URL, "alembix_bench_lat_dbmate", port)
        far_dbm += ("&" if "?" in far_dbm else "?") + "sslmode=prefer"
        dbm = ["dbmate", "--url", far_dbm, "--migrations-dir", mig, "--no-dump-schema"]
        cmds["dbmate status"] = (dbm + ["status"], None)
        cmds["dbmate migrate"] = (dbm + ["migrate"], None)
    m = compare(cmds, proj)

    print()
    print("PostgreSQL through a proxy adding %.0f ms of round trip; %d revisions at head; median of %d, "
          "interleaved" % (RTT * 1000, N, RUNS))
    hdr = "%-44s %10s  %-28s %10s %8s" % ("command", "alembix", "peer", "peer", "ratio")
    print(hdr)
    print("-" * len(hdr))

    def line(what, a, peer, p):
        if p is None:
            print("%-44s %8.1f ms  %-28s %10s %8s" % (what, a * 1e3, peer, "-", ""))
        else:
            print("%-44s %8.1f ms  %-28s %7.1f ms %7.2fx" % (what, a * 1e3, peer, p * 1e3, a / p))

    line("current", m["current"], "psql, the version row", m["psql"])
    if "sqlx info" in m:
        line("current", m["current"], "sqlx migrate info", m["sqlx info"])
    else:
        line("current", m["current"], "sqlx (not installed)", None)
    if "dbmate status" in m:
        line("current", m["current"], "dbmate status", m["dbmate status"])
    else:
        line("current", m["current"], "dbmate (not installed)", None)
    if "sqlx run" in m:
        line("upgrade head, nothing to do", m["upgrade"], "sqlx migrate run", m["sqlx run"])
    if "dbmate migrate" in m:
        line("upgrade head, nothing to do", m["upgrade"], "dbmate migrate", m["dbmate migrate"])
    if BASELINE:
        line("current", m["current"], "BASELINE_BIN current", m["base current"])
        line("upgrade head, nothing to do", m["upgrade"], "BASELINE_BIN upgrade", m["base upgrade"])
    print("round trips: (alembix - peer) / %.0f ms estimates how many more (negative: fewer) the command makes"
          % (RTT * 1000))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate one history twice -- an Alembic project and the same revisions as alembix SQL files -- and time
`alembix verify` against pytest-alembic's built-in tests on it, interleaved, in the same run.

    verify_bench.py DIR --revisions N --engine sqlite|postgres --runs R --alembix BIN

Prints one JSON object: {"engine", "revisions", "alembix": [seconds...], "pytest_alembic": [seconds...]}.
Each pytest-alembic run gets a fresh database (its `alembic_engine` fixture, as a project would write it);
each alembix run verifies on its own scratch database (SQLite in memory; a temporary PostgreSQL database).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def table_ddl(i):
    ref = f",\n    parent_id INTEGER REFERENCES t{i - 1} (id)" if i > 1 else ""
    return (f"CREATE TABLE t{i} (\n    id INTEGER PRIMARY KEY,\n    name VARCHAR(50) NOT NULL,\n"
            f"    created TIMESTAMP{ref}\n);\n\nCREATE INDEX ix_t{i}_name ON t{i} (name);\n")


def write_projects(root, n):
    alembic_dir = os.path.join(root, "alembic_project")
    alembix_dir = os.path.join(root, "alembix_project")
    os.makedirs(os.path.join(alembic_dir, "migrations", "versions"), exist_ok=True)
    os.makedirs(os.path.join(alembix_dir, "migrations"), exist_ok=True)
    with open(os.path.join(alembic_dir, "alembic.ini"), "w") as f:
        f.write("[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite://\n")
    with open(os.path.join(alembic_dir, "models.py"), "w") as f:
        f.write("import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n")
        for i in range(1, n + 1):
            parent = f", sa.Column('parent_id', sa.Integer, sa.ForeignKey('t{i - 1}.id'))" if i > 1 else ""
            f.write(f"sa.Table('t{i}', metadata, sa.Column('id', sa.Integer, primary_key=True), "
                    f"sa.Column('name', sa.String(50), nullable=False), sa.Column('created', sa.DateTime)"
                    f"{parent}, sa.Index('ix_t{i}_name', 'name'))\n")
    with open(os.path.join(alembic_dir, "migrations", "env.py"), "w") as f:
        f.write(
            "import sys, os\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
            "from alembic import context\nimport models\n\n"
            "from sqlalchemy import create_engine\nfrom sqlalchemy.engine import Connection\n\n"
            "def migrate(conn):\n"
            "    context.configure(connection=conn, target_metadata=models.metadata)\n"
            "    with context.begin_transaction():\n"
            "        context.run_migrations()\n\n"
            "# pytest-alembic hands over its engine (or a connection) here, as its documentation shows.\n"
            "given = context.config.attributes.get('connection')\n"
            "if isinstance(given, Connection):\n"
            "    migrate(given)\n"
            "else:\n"
            "    engine = given or create_engine(context.config.get_main_option('sqlalchemy.url'))\n"
            "    with engine.connect() as conn:\n"
            "        migrate(conn)\n")
    with open(os.path.join(alembic_dir, "migrations", "script.py.mako"), "w") as f:
        f.write("")
    prev = None
    for i in range(1, n + 1):
        rev = "%012x" % i
        with open(os.path.join(alembic_dir, "migrations", "versions", f"{rev}_t{i}.py"), "w") as f:
            parent = f", sa.Column('parent_id', sa.Integer, sa.ForeignKey('t{i - 1}.id'))" if i > 1 else ""
            f.write(
                f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = {rev!r}\n"
                f"down_revision = {prev!r}\nbranch_labels = None\ndepends_on = None\n\n"
                f"def upgrade():\n"
                f"    op.create_table('t{i}', sa.Column('id', sa.Integer, primary_key=True), "
                f"sa.Column('name', sa.String(50), nullable=False), sa.Column('created', sa.DateTime){parent})\n"
                f"    op.create_index('ix_t{i}_name', 't{i}', ['name'])\n\n"
                f"def downgrade():\n    op.drop_index('ix_t{i}_name', table_name='t{i}')\n"
                f"    op.drop_table('t{i}')\n")
        with open(os.path.join(alembix_dir, "migrations", f"{rev}_t{i}.sql"), "w") as f:
            f.write(f"-- t{i}\n--\n-- Revision ID: {rev}\n-- Revises: {prev or ''}\n"
                    f"-- Create Date: 2026-01-01 00:00:00\n\n-- migrate:up\n{table_ddl(i)}\n"
                    f"-- migrate:down\nDROP INDEX ix_t{i}_name;\n\nDROP TABLE t{i};\n")
        prev = rev
    with open(os.path.join(alembix_dir, "alembix.toml"), "w") as f:
        f.write('migrations = "migrations"\n')
    return alembic_dir, alembix_dir


CONFTEST_SQLITE = """
import pytest, sqlalchemy as sa

@pytest.fixture
def alembic_engine():
    return sa.create_engine("sqlite://")
"""

CONFTEST_PG = """
import uuid, pytest, sqlalchemy as sa
ADMIN = %r

@pytest.fixture
def alembic_engine():
    name = "bench_pa_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.execute(sa.text("CREATE DATABASE " + name))
    engine = sa.create_engine(ADMIN.rsplit("/", 1)[0] + "/" + name, poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()
    with admin.connect() as c:
        c.execute(sa.text("DROP DATABASE " + name))
"""


def timed(cmd, cwd, env=None):
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout[-3000:]))
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--revisions", type=int, default=50)
    ap.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--alembix", required=True)
    a = ap.parse_args()
    alembic_dir, alembix_dir = write_projects(a.dir, a.revisions)
    # Where pytest-alembic binds its built-in tests by default, beside the `alembic_engine` fixture.
    os.makedirs(os.path.join(alembic_dir, "tests"), exist_ok=True)
    with open(os.path.join(alembic_dir, "tests", "conftest.py"), "w") as f:
        f.write(CONFTEST_PG % PG_ADMIN.replace("postgresql://", "postgresql+psycopg2://")
                if a.engine == "postgres" else CONFTEST_SQLITE)
    with open(os.path.join(alembic_dir, "pytest.ini"), "w") as f:
        f.write("[pytest]\n")
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "--test-alembic", "-p", "no:cacheprovider", "tests"]
    if a.engine == "sqlite":
        url = "sqlite::memory:"
    else:
        url = PG_ADMIN.replace("postgresql://", "postgres://")
    alembix_cmd = [a.alembix, "--url", url, "verify"]
    env = dict(os.environ, NO_COLOR="1")
    # Warm-up (and proof that both pass).
    timed(pytest_cmd, alembic_dir, env)
    timed(alembix_cmd, alembix_dir, env)
    res = {"engine": a.engine, "revisions": a.revisions, "alembix": [], "pytest_alembic": []}
    for _ in range(a.runs):
        res["pytest_alembic"].append(timed(pytest_cmd, alembic_dir, env))
        res["alembix"].append(timed(alembix_cmd, alembix_dir, env))
    print(json.dumps(res))


if __name__ == "__main__":
    main()

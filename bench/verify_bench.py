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


# The second revision of the real model set: what a team adds next (a column with an index, a new table).
REAL_EDIT = {
    "accounts.py": ('    locale: Mapped[str] = mapped_column(String(16), server_default="en")\n',
                    '    locale: Mapped[str] = mapped_column(String(16), server_default="en")\n'
                    '    phone: Mapped[Optional[str]] = mapped_column(String(32), index=True)\n'),
    "support.py": ("", """

class SavedView(TimestampMixin, Base):
    __tablename__ = "saved_views"
    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
"""),
}

REAL_ENV = """import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from app.models import Base


def migrate(conn):
    context.configure(connection=conn, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()


# pytest-alembic hands over its engine (or a connection) here, as its documentation shows.
given = context.config.attributes.get('connection')
if isinstance(given, Connection):
    migrate(given)
else:
    engine = given or create_engine(os.environ.get('BENCH_ALEMBIC_URL') or
                                    context.config.get_main_option('sqlalchemy.url'))
    with engine.connect() as conn:
        migrate(conn)
"""

REAL_MAKO = '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''


def write_models(root, edited):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import real_models
    models = os.path.join(root, "app", "models")
    modules = dict(real_models.MODULES)
    for name, (old, new) in REAL_EDIT.items() if edited else ():
        assert old in modules[name]
        modules[name] = modules[name].replace(old, new, 1) if old else modules[name] + new
    names = real_models.write_modules(models, modules)
    open(os.path.join(root, "app", "__init__.py"), "w").close()
    with open(os.path.join(models, "__init__.py"), "w") as f:
        f.write("from .base import Base\n" + "".join("from . import %s  # noqa: F401\n" % n for n in names))


def scratch_db(engine, work):
    """An empty database for autogenerate to compare against: (SQLAlchemy URL, alembix URL, drop)."""
    if engine == "sqlite":
        path = os.path.join(work, "autogen-%s.db" % uuid.uuid4().hex[:8])
        return "sqlite:///" + path, "sqlite:" + path, lambda: os.path.exists(path) and os.remove(path)
    import sqlalchemy as sa
    name = "bench_va_" + uuid.uuid4().hex[:10]
    admin_url = PG_ADMIN.replace("postgresql://", "postgresql+psycopg2://")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as c:
        c.execute(sa.text("CREATE DATABASE " + name))

    def drop():
        with admin.connect() as c:
            c.execute(sa.text("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"))
    base = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    return base.replace("postgresql://", "postgresql+psycopg2://"), base.replace("postgresql://", "postgres://"), drop


def run_ok(cmd, cwd, env=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout[-3000:]))
    return p.stdout


PG_ENUMS = ("org_plan", "subscription_status", "order_status", "ticket_priority")


def write_real_projects(root, engine, alembix):
    """The real model set's history, two revisions, written by each tool's own autogenerate: the schema,
    then the edit a team makes next (a column with an index, a new table)."""
    alembic_dir = os.path.join(root, "alembic_project")
    alembix_dir = os.path.join(root, "alembix_project")
    versions = os.path.join(alembic_dir, "migrations", "versions")
    os.makedirs(versions, exist_ok=True)
    os.makedirs(os.path.join(alembix_dir, "migrations"), exist_ok=True)
    with open(os.path.join(alembic_dir, "alembic.ini"), "w") as f:
        f.write("[alembic]\nscript_location = migrations\nsqlalchemy.url = sqlite://\n")
    with open(os.path.join(alembic_dir, "migrations", "env.py"), "w") as f:
        f.write(REAL_ENV)
    with open(os.path.join(alembic_dir, "migrations", "script.py.mako"), "w") as f:
        f.write(REAL_MAKO)
    with open(os.path.join(alembix_dir, "alembix.toml"), "w") as f:
        f.write('migrations = "migrations"\nmodels = "app.models"\n')
    env = dict(os.environ, NO_COLOR="1")
    steps = [(False, "schema", "0001aa"), (True, "phone and saved views", "0002bb")]
    for tool_dir in (alembic_dir, alembix_dir):
        sa_url, x_url, drop = scratch_db(engine, root)
        try:
            for edited, message, rev in steps:
                write_models(tool_dir, edited)
                if tool_dir == alembic_dir:
                    e = dict(env, BENCH_ALEMBIC_URL=sa_url)
                    run_ok([sys.executable, "-m", "alembic", "revision", "--autogenerate", "-m", message,
                            "--rev-id", rev], tool_dir, e)
                    if engine == "postgres" and not edited:
                        # Alembic's downgrade drops the tables but not their enum types (a known gap that
                        # PostgreSQL teams patch by hand): without this, up-down-up fails.
                        path = os.path.join(versions, [n for n in os.listdir(versions) if n.startswith(rev)][0])
                        text = open(path).read().rstrip("\n") + "\n"
                        text += "".join("    op.execute('DROP TYPE IF EXISTS %s')\n" % t for t in PG_ENUMS)
                        open(path, "w").write(text)
                    run_ok([sys.executable, "-m", "alembic", "upgrade", "head"], tool_dir, e)
                else:
                    run_ok([alembix, "--url", x_url, "revision", "--autogenerate", "-m", message,
                            "--rev-id", rev], tool_dir, env)
                    run_ok([alembix, "--url", x_url, "upgrade", "head"], tool_dir, env)
        finally:
            drop()
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
    ap.add_argument("--model-set", choices=["generated", "real"], default="generated",
                    help="real: the 53-table set of bench/real_models.py, two autogenerated revisions")
    a = ap.parse_args()
    alembix = os.path.abspath(a.alembix)
    if a.model_set == "real":
        os.makedirs(a.dir, exist_ok=True)
        alembic_dir, alembix_dir = write_real_projects(a.dir, a.engine, alembix)
        a.revisions = 2
    else:
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
    alembix_cmd = [alembix, "--url", url, "verify"]
    env = dict(os.environ, NO_COLOR="1")
    # Warm-up (and proof that both pass).
    timed(pytest_cmd, alembic_dir, env)
    timed(alembix_cmd, alembix_dir, env)
    res = {"engine": a.engine, "revisions": a.revisions, "model_set": a.model_set, "alembix": [],
           "pytest_alembic": []}
    for _ in range(a.runs):
        res["pytest_alembic"].append(timed(pytest_cmd, alembic_dir, env))
        res["alembix"].append(timed(alembix_cmd, alembix_dir, env))
    print(json.dumps(res))


if __name__ == "__main__":
    main()

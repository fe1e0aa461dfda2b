"""Print the DDL of the SQLAlchemy models, for alembix's `schema_command`.

alembix runs this with ALEMBIX_DIALECT set to the engine it compares on (postgresql, mysql or sqlite), so the
DDL is compiled for that engine. No database connection is made.
"""
import os
import sys

from sqlalchemy import create_mock_engine

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import Base  # noqa: E402

dialect = os.environ.get("ALEMBIX_DIALECT", "sqlite")


def emit(sql, *_args, **_kwargs):
    print(str(sql.compile(dialect=engine.dialect)).strip() + ";\n")


engine = create_mock_engine(f"{dialect}://", emit)
Base.metadata.create_all(engine, checkfirst=False)

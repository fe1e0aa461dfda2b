#!/usr/bin/env bash
# Build the PyPI wheel, install it with uv into a fresh virtual environment that has only the wheel and
# SQLAlchemy, and run a Python team's whole workflow from there (init from models, autogenerate, upgrade,
# a model change, autogenerate again, downgrade, history, current) on SQLite and on PostgreSQL.
# Needs: python3 with pip; PostgreSQL at $ALEMBIX_TEST_POSTGRES_URL (skipped when unset).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'maturin>=1.5,<2' uv
rm -rf target/wheels
maturin build --release --quiet -o target/wheels 2>&1 | tail -n 3
wheel=$(ls "$repo"/target/wheels/alembix-*.whl)
echo "wheel-test: built $(basename "$wheel")"
# Not `unzip -l | grep -q`: grep exits at the first match, unzip then dies of SIGPIPE, and pipefail makes that
# a failure whenever the listing outlives the match (CI saw exactly that on a wheel that had the binary).
listing=$(unzip -l "$wheel")
grep -q 'scripts/alembix' <<<"$listing" || { echo "wheel-test: the wheel has no alembix binary" >&2; echo "$listing" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_flow() { # name, DATABASE_URL
  local name=$1 url=$2 dir="$work/$1"
  mkdir -p "$dir/app/models"
  cd "$dir"
  uv venv --quiet .venv
  uv pip install --quiet --python .venv/bin/python "$wheel" 'sqlalchemy>=2,<3'
  cat > app/__init__.py <<'PY'
PY
  cat > app/models/__init__.py <<'PY'
from app.models.base import Base  # noqa: F401
PY
  cat > app/models/base.py <<'PY'
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass
PY
  # Not imported by app/models/__init__.py: naming the package must still find it.
  cat > app/models/user.py <<'PY'
from sqlalchemy import String, func, DateTime
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    created_at = mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)
PY
  export DATABASE_URL="$url"
  uv run alembix init --models app.models
  uv run alembix revision --autogenerate -m "create users"
  uv run alembix upgrade head
  sed -i 's/    email: Mapped\[str\] = mapped_column(String(255), unique=True)/&\n    phone: Mapped[str | None] = mapped_column(String(32))/' app/models/user.py
  uv run alembix revision --autogenerate -m "add phone to users" | tee out.txt
  grep -q "phone" out.txt
  uv run alembix upgrade head
  uv run alembix check --live
  uv run alembix downgrade -1
  uv run alembix history
  uv run alembix current | tee out.txt
  uv run alembix upgrade head
  # A second check runs no Python: the printed DDL is cached while no model file changes.
  uv run alembix check --live
  cd "$repo"
  echo "wheel-test: $name workflow passed"; passed=$((passed + 1))
}

passed=0
run_flow sqlite "sqlite:///app.db"
if [ -n "${ALEMBIX_TEST_POSTGRES_URL:-}" ]; then
  db="alembix_wheel_$$"
  psql "$ALEMBIX_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  pg="${ALEMBIX_TEST_POSTGRES_URL%/*}/$db"
  run_flow postgresql "${pg/postgres:\/\//postgresql+asyncpg://}"
  psql "$ALEMBIX_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
else
  echo "wheel-test: SKIPPED PostgreSQL (ALEMBIX_TEST_POSTGRES_URL unset)"
fi
echo "wheel-test: $passed passed, 0 failed"

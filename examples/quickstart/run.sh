#!/usr/bin/env bash
# The quickstart, end to end on SQLite (no server needed): upgrade to head, look around, step back, go again.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
cargo build -q -p alembix-cli
alembix() { echo "\$ alembix $*" >&2; ./target/debug/alembix -c "$here/alembix.toml" "$@"; }
rm -f "$here/quickstart.db" "$here/quickstart.db.alembix-lock"
alembix history
alembix upgrade head
alembix current -v
alembix downgrade -1
alembix current
alembix upgrade head
alembix history -r 6a2e:

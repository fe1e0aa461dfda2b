# Shared by the bench scripts: logging and installing the tools they need (best effort, as root).

log() { printf '==> %s\n' "$*" >&2; }

have_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # Best effort: only as root, and `apt-get update` only if the first try fails.
    have_root || return 1
    command -v apt-get >/dev/null || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 && return 0
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

need() {
    # need COMMAND APT-PACKAGE
    command -v "$1" >/dev/null && return 0
    log "$1 not found; trying apt-get install $2"
    apt_install "$2" && command -v "$1" >/dev/null || { echo "$1 is required (apt package $2)" >&2; exit 1; }
}

pg_check() {
    # pg_check URL: exit 0 when URL is a loopback PostgreSQL server that accepts a connection (python3 and
    # psycopg2, so no psql is needed); otherwise print why not (no password) and exit 1.
    python3 - "$1" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlsplit(sys.argv[1])
if u.scheme not in ("postgres", "postgresql"):
    sys.exit(print("not a postgres:// URL") or 1)
host, port = u.hostname or "", u.port or 5432
if host not in ("127.0.0.1", "::1", "localhost"):
    sys.exit(print("%s is not a loopback address (only 127.0.0.1, ::1 or localhost are used)" % (host or "no host")) or 1)
try:
    import psycopg2
except ImportError:
    sys.exit(print("psycopg2 is not installed (pip install psycopg2-binary)") or 1)
try:
    psycopg2.connect(host=host, port=port, user=urllib.parse.unquote(u.username or "postgres"),
                     password=urllib.parse.unquote(u.password or "") or None,
                     dbname=urllib.parse.unquote(u.path.lstrip("/")) or "postgres", connect_timeout=5).close()
except Exception as e:  # noqa: BLE001
    sys.exit(print("cannot connect to %s:%d (%s)" % (host, port, (str(e).strip().splitlines() or ["?"])[0])) or 1)
PY
}

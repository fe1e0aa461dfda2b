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

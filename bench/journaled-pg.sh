#!/usr/bin/env bash
# A throwaway PostgreSQL whose data directory is on a journaled ext4, for the cold scratch-build rows.
#
#   bench/journaled-pg.sh start     # prints the URL (postgres://postgres@127.0.0.1:5434/postgres)
#   ALEMBIX_BENCH_POSTGRES_URL=$(bench/journaled-pg.sh start) SKIP_BUILD=1 ENGINES=postgresql bench/models.sh
#   bench/journaled-pg.sh stop      # stops it, unmounts and deletes the file system
#
# Why: the dev VM's root file system is ext4 without a journal, and only there does ext4 skip inodes deleted
# in the last minutes when it allocates one (`find_inode_bit` -> `recently_deleted`). A cold build of 300
# tables creates and unlinks about 2,100 relation files, so on that file system each cold run slows the
# next ones, and the cold rows measure the file system (see bench/README.md, seventh December round). A
# loop-mounted ext4 with its journal, on the same disk, is what a usual Linux host has.
#
# Needs root (mount), the server's binaries (/usr/lib/postgresql/<major>/bin) and a free PORT (5434). The
# cluster is set up like the machine's main one where it matters here: TLS on with the snakeoil
# certificate when it exists, autovacuum off, fsync on. Knobs: PORT=5434, SIZE=3G,
# IMG=/var/tmp/alembix-journaled-pg.img, MNT=/mnt/alembix-journaled-pg.
set -euo pipefail

PORT=${PORT:-5434}
SIZE=${SIZE:-3G}
IMG=${IMG:-/var/tmp/alembix-journaled-pg.img}
MNT=${MNT:-/mnt/alembix-journaled-pg}
BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
URL="postgres://postgres@127.0.0.1:$PORT/postgres"

log() { printf '==> %s\n' "$*" >&2; }
as_postgres() { su postgres -s /bin/sh -c "$*"; }

start() {
    [ "$(id -u)" = 0 ] || { echo "root is needed to mount the file system" >&2; exit 1; }
    [ -n "$BINDIR" ] || { echo "no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }
    if ! grep -q " $MNT " /proc/mounts; then
        truncate -s "$SIZE" "$IMG"
        mkfs.ext4 -q -F "$IMG"
        mkdir -p "$MNT"
        mount -o loop "$IMG" "$MNT"
        log "mounted a journaled ext4 ($SIZE) at $MNT"
    fi
    if [ ! -d "$MNT/data" ]; then
        chown postgres "$MNT"
        as_postgres "'$BINDIR/initdb' -D '$MNT/data' -A trust -U postgres" >/dev/null
        {
            echo "port = $PORT"
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '/tmp'"
            echo "autovacuum = off"
            echo "fsync = on"
            if [ -r /etc/ssl/certs/ssl-cert-snakeoil.pem ] && [ -e /etc/ssl/private/ssl-cert-snakeoil.key ]; then
                echo "ssl = on"
                echo "ssl_cert_file = '/etc/ssl/certs/ssl-cert-snakeoil.pem'"
                echo "ssl_key_file = '/etc/ssl/private/ssl-cert-snakeoil.key'"
            fi
        } >>"$MNT/data/postgresql.conf"
    fi
    as_postgres "'$BINDIR/pg_ctl' -D '$MNT/data' -l '$MNT/server.log' -w status" >/dev/null 2>&1 ||
        as_postgres "'$BINDIR/pg_ctl' -D '$MNT/data' -l '$MNT/server.log' -w start" >/dev/null
    log "PostgreSQL on $MNT/data, port $PORT"
    echo "$URL"
}

stop() {
    if [ -d "$MNT/data" ]; then
        as_postgres "'$BINDIR/pg_ctl' -D '$MNT/data' -w stop" >/dev/null 2>&1 || true
    fi
    if grep -q " $MNT " /proc/mounts; then
        umount "$MNT"
    fi
    rm -f "$IMG"
    log "stopped and removed"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Start PgBouncer in front of the local PostgreSQL, as managed hosts (Supabase, Render, Heroku) put it:
# transaction pooling on 127.0.0.1:6432, session pooling on 127.0.0.1:6433. Installs it from Debian's
# packages when missing. Idempotent: a running instance on a port is left as it is.
set -euo pipefail
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "pgbouncer: installing from Debian's packages" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi
bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
dir=/tmp/alembix-pgbouncer
mkdir -p "$dir"
# PgBouncer refuses to run as root; the postgres user runs it.
chown postgres "$dir" 2>/dev/null || true
printf '"postgres" ""\n' > "$dir/users.txt"
for spec in transaction:6432 session:6433; do
  mode=${spec%%:*}; port=${spec##*:}
  if (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    continue
  fi
  cat > "$dir/$mode.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = $mode
max_client_conn = 400
default_pool_size = 40
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/$mode.log
pidfile = $dir/$mode.pid
INI
  chown postgres "$dir/$mode.ini" "$dir/users.txt" 2>/dev/null || true
  if [ "$(id -u)" = 0 ]; then
    "$bin" -d -u postgres "$dir/$mode.ini"
  else
    "$bin" -d "$dir/$mode.ini"
  fi
  for _ in $(seq 1 50); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "pgbouncer ($mode) did not come up:" >&2; cat "$dir/$mode.log" >&2; exit 1; }
  echo "pgbouncer: $mode pooling on 127.0.0.1:$port" >&2
done

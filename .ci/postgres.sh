# Sourced by .ci/run: a throwaway PostgreSQL server for the tests marked `postgres` (tuning
# workers sharing one Optuna study). Debian's server package, listening on 127.0.0.1 only, its
# data in a temporary folder; stopped and deleted when the calling shell exits. Exports
# ORKIT_TEST_POSTGRES_URL; where no server can be had, the tests skip and say why.

orkit_start_postgres() {
  local bin dir port run=""
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$bin" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's postgresql package for the postgres tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  fi
  if [ -z "$bin" ]; then
    echo "no PostgreSQL server: the postgres tests will skip"
    return 0
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/orkit-postgres.XXXXXX")
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root: the package's postgres user runs it
    chown postgres "$dir"
    run="runuser -u postgres --"
  fi
  if ! $run "$bin/initdb" -D "$dir/data" -U orkit -A trust >"$dir/initdb.log" 2>&1 \
    || ! $run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
         -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir" start >/dev/null \
    || ! $run "$bin/createdb" -h 127.0.0.1 -p "$port" -U orkit orkit; then
    echo "PostgreSQL did not start (logs in $dir): the postgres tests will skip"
    return 0
  fi
  # shellcheck disable=SC2064  # the values are fixed now
  trap "$run '$bin/pg_ctl' -D '$dir/data' -m fast -w stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
  export ORKIT_TEST_POSTGRES_URL="postgresql://orkit@127.0.0.1:$port/orkit"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port for the postgres tests"
}

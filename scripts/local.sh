#!/usr/bin/env bash
# Local machine setup and services for MyMedic. Usage: scripts/local.sh COMMAND
#   system | venv | npm | services-start | services-stop [postgres] [redis] | env
#   setup | run | test [pytest args] | bench | clean | backup | restore
# Env: MYMEDIC_LOCAL_DIR, MYMEDIC_PG_PORT, MYMEDIC_REDIS_PORT, MYMEDIC_PG_OPTS,
#      MYMEDIC_STARTED_FILE, PORT (run), CELLS (run: one cell per region, e.g. in,gcc),
#      PYTEST_ARGS, MYMEDIC_TEST_WORKERS (test: pytest-xdist workers, default one per core),
#      REPLICA=1 (a streaming standby), MYMEDIC_SYNC_REPLICATION=1, MYMEDIC_STANDBY_PORT,
#      MYMEDIC_EVENT_BUS (run: `local` starts nats-server and the relay),
#      MYMEDIC_WAL_ARCHIVE, MYMEDIC_ARCHIVE_TIMEOUT, TO, MYMEDIC_RESTORE_PORT (backups).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

# Local defaults (debug, derived keys, file backends) are refused unless this is said.
export MYMEDIC_ENV=local

say() { printf '%s\n' "$*"; }
die() { printf 'local.sh: %s\n' "$*" >&2; exit 1; }

# Run a noisy command silently; show its output only if it fails.
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
quiet() {
  local rc=0
  "$@" >"$LOG" 2>&1 || rc=$?
  ((rc == 0)) || { cat "$LOG" >&2; printf 'local.sh: failed (%s): %s\n' "$rc" "$*" >&2; }
  return "$rc"
}

# initdb/postgres refuse to run as root.
# cd / because the checkout itself may not be readable by postgres.
as_pg() { if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- layout --------------------------------------------------------------------
# postgres must be able to reach its data dir; a checkout under e.g. /root is not
# traversable by it, so fall back to a per-checkout dir in /tmp.
if [[ -n ${MYMEDIC_LOCAL_DIR:-} ]]; then
  LOCAL=$(realpath -m "$MYMEDIC_LOCAL_DIR")
elif ((EUID != 0)) || ! id postgres &>/dev/null || runuser -u postgres -- test -x "$ROOT"; then
  LOCAL=$ROOT/.local
else
  LOCAL=/tmp/mymedic-$(printf %s "$ROOT" | sha256sum | cut -c1-8)
fi
# Ports derive from the checkout path so parallel checkouts don't collide.
OFFSET=$(($(printf %s "$ROOT" | cksum | cut -d' ' -f1) % 900))
PG_PORT=${MYMEDIC_PG_PORT:-$((54000 + OFFSET))}
REDIS_PORT=${MYMEDIC_REDIS_PORT:-$((56000 + OFFSET))}
NATS_PORT=${MYMEDIC_NATS_PORT:-$((57000 + OFFSET))}

PGDIR=$LOCAL/postgres
PGDATA=$PGDIR/data
PGLOG=$PGDIR/postgres.log
PGSOCK=$PGDIR
((${#PGSOCK} < 80)) || PGSOCK=/tmp # unix socket paths are limited to ~107 bytes
RDIR=$LOCAL/redis
# The streaming standby (REPLICA=1): a base backup of the cluster that follows its WAL.
STANDBY_DATA=$PGDIR/standby
STANDBY_PORT=${MYMEDIC_STANDBY_PORT:-$((55000 + OFFSET))}
STANDBY_NAME=mymedic_standby
NDIR=$LOCAL/nats
# Given on the command line, so a restored copy (scripts/backup.sh) needs them again.
PG_LIMITS="-c max_connections=200"

pg_bin() {
  # Prefer the major version the data dir was created with.
  if [[ -s $PGDATA/PG_VERSION && -d /usr/lib/postgresql/$(<"$PGDATA/PG_VERSION")/bin ]]; then
    echo "/usr/lib/postgresql/$(<"$PGDATA/PG_VERSION")/bin"
  else
    compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1 | xargs -r dirname
  fi
}

pg_running() { [[ -f $PGDATA/postmaster.pid ]] && as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" status &>/dev/null; }
redis_running() {
  [[ -f $RDIR/redis.pid ]] && [[ $(cat "/proc/$(<"$RDIR/redis.pid")/comm" 2>/dev/null) == redis-server ]]
}

# Serialise start/stop between concurrent invocations for the same local dir.
# Daemons must be started with 9>&- or they would hold the lock forever.
lock() {
  mkdir -p "$LOCAL" && chmod 755 "$LOCAL"
  exec 9>"$LOCAL/.lock" && flock 9
}
unlock() { exec 9>&-; } # or children (honcho...) would inherit and hold the lock

# --- commands ------------------------------------------------------------------
apt_get() {
  # Another apt may be running; wait for its lock rather than failing.
  for _ in {1..60}; do
    DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 "$@" >"$LOG" 2>&1 && return
    grep -q 'Could not get lock' "$LOG" || break
    sleep 10
  done
  cat "$LOG" >&2
  die "apt-get $* failed"
}

cmd_system() {
  local missing=()
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
  { command -v redis-server && command -v redis-cli; } >/dev/null || missing+=(redis-server)
  command -v chromium >/dev/null || missing+=(chromium)
  [[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx)
  command -v wrk >/dev/null || missing+=(wrk)  # make bench's serving part
  command -v nats-server >/dev/null || missing+=(nats-server)  # the event bus (tests, relay)
  # A Devanagari font, so Chromium draws the Hindi display and doctor's queue (browser tests).
  fc-list :lang=hi 2>/dev/null | grep -q . || missing+=(fonts-lohit-deva)
  python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v npm >/dev/null || missing+=(npm)  # axe-core for the browser tests (cmd_npm)
  if ((${#missing[@]} == 0)); then say "system: packages present"; return; fi
  say "system: installing ${missing[*]}"
  apt_get update
  apt_get install "${missing[@]}"
}

cmd_venv() {
  local want have=
  [[ -x .venv/bin/python ]] || { say "venv: creating .venv"; quiet python3 -m venv .venv; }
  want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
  [[ -f .venv/requirements.sha256 ]] && have=$(<.venv/requirements.sha256)
  if [[ $want == "$have" ]]; then say "venv: up to date"; return; fi
  # Both files pin every package with its hashes, so pip checks each download.
  say "venv: installing requirements.txt and requirements-dev.txt"
  PIP_DISABLE_PIP_VERSION_CHECK=1 quiet .venv/bin/pip install -q -r requirements.txt -r requirements-dev.txt
  echo "$want" >.venv/requirements.sha256
}

# axe-core for the browser tests' accessibility sweep, pinned (with its integrity hash) by
# tests/browser/package-lock.json; installed again only when the lockfile changes.
cmd_npm() {
  local want have= dir=tests/browser
  want=$(sha256sum <"$dir/package-lock.json" | cut -d' ' -f1)
  [[ -f $dir/node_modules/.lock.sha256 ]] && have=$(<"$dir/node_modules/.lock.sha256")
  if [[ $want == "$have" ]]; then say "npm: up to date"; return; fi
  say "npm: installing tests/browser/package-lock.json"
  (cd "$dir" && quiet npm ci --ignore-scripts --no-audit --no-fund)
  echo "$want" >"$dir/node_modules/.lock.sha256"
}

STARTED=() # services started by this invocation

start_pg() {
  local bin port opts locale=C
  if pg_running; then
    port=$(sed -n 4p "$PGDATA/postmaster.pid")
    [[ $port == "$PG_PORT" ]] || die "postgres for this checkout already runs on port $port, not $PG_PORT; run 'make stop' first"
  else
    port_open "$PG_PORT" && die "port $PG_PORT is taken by another program; set MYMEDIC_PG_PORT to a free port"
    ((EUID != 0)) || runuser -u postgres -- test -x "$LOCAL" ||
      die "user postgres cannot reach $LOCAL; set MYMEDIC_LOCAL_DIR to a directory it can enter"
    mkdir -p "$PGDIR"
    ((EUID != 0)) || chown postgres: "$PGDIR"
    bin=$(pg_bin)
    [[ -n $bin ]] || die "PostgreSQL not installed; run 'scripts/local.sh system'"
    if [[ ! -s $PGDATA/PG_VERSION ]]; then
      locale -a 2>/dev/null | grep -ix 'c\.utf-\?8' >/dev/null && locale=C.UTF-8
      quiet as_pg "$bin/initdb" -D "$PGDATA" -A trust -U postgres --encoding=UTF8 --locale="$locale"
    fi
    opts="-c listen_addresses=127.0.0.1 -p $PG_PORT -k '$PGSOCK' $PG_LIMITS ${MYMEDIC_PG_OPTS:-}"
    opts+=" $(wal_archive_opts)"
    # Logical decoding, for moving a tenant to another cell (apps/tenants/moves.py); it
    # includes everything `replica` (the WAL archive) needs.
    opts+=" -c wal_level=logical"
    quiet as_pg "$bin/pg_ctl" -w -D "$PGDATA" -l "$PGLOG" -o "$opts" start 9>&- ||
      { tail -n 20 "$PGLOG" >&2; die "postgres failed to start"; }
    STARTED+=(postgres)
  fi
  local psql=("$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1)
  [[ $("${psql[@]}" -tAc "select 1 from pg_database where datname = 'mymedic'") == 1 ]] ||
    quiet "${psql[@]}" -c 'create database mymedic'
}

# WAL archiving is opt-in (MYMEDIC_WAL_ARCHIVE=1, or a directory): see docs/OPERATIONS.md.
WAL_ARCHIVE=$LOCAL/backups/wal
[[ ${MYMEDIC_WAL_ARCHIVE:-} == 1 || -z ${MYMEDIC_WAL_ARCHIVE:-} ]] || WAL_ARCHIVE=$(realpath -m "$MYMEDIC_WAL_ARCHIVE")
wal_archive_opts() {
  [[ -n ${MYMEDIC_WAL_ARCHIVE:-} ]] || return 0
  scripts/backup.sh archive-settings --archive "$WAL_ARCHIVE" --timeout "${MYMEDIC_ARCHIVE_TIMEOUT:-60}"
}

start_redis() {
  if redis_running; then
    [[ $(<"$RDIR/port") == "$REDIS_PORT" ]] ||
      die "redis for this checkout already runs on port $(<"$RDIR/port"), not $REDIS_PORT; run 'make stop' first"
    return
  fi
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another program; set MYMEDIC_REDIS_PORT to a free port"
  command -v redis-server >/dev/null || die "redis-server not installed; run 'scripts/local.sh system'"
  mkdir -p "$RDIR"
  echo "$REDIS_PORT" >"$RDIR/port"
  quiet redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
    --dir "$RDIR" --pidfile "$RDIR/redis.pid" --logfile "$RDIR/redis.log" 9>&-
  for _ in {1..50}; do
    [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && { STARTED+=(redis); return; }
    sleep 0.1
  done
  tail -n 20 "$RDIR/redis.log" >&2
  die "redis failed to start"
}

standby_running() { [[ -f $STANDBY_DATA/postmaster.pid ]] && as_pg "$(pg_bin)/pg_ctl" -D "$STANDBY_DATA" status &>/dev/null; }

# REPLICA=1: a standby next to the primary (made by pg_basebackup the first time, then
# streaming), on STANDBY_PORT. MYMEDIC_SYNC_REPLICATION=1 makes it synchronous: a commit is
# acknowledged once the standby has it. Without the standby the primary is never left waiting
# for one (synchronous_standby_names is cleared).
start_standby() {
  local psql=("$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1)
  local names=
  if [[ ${REPLICA:-} == 1 ]]; then
    if ! standby_running; then
      if [[ ! -s $STANDBY_DATA/PG_VERSION ]]; then
        say "standby: base backup of the primary into $STANDBY_DATA"
        quiet as_pg "$(pg_bin)/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U postgres \
          -D "$STANDBY_DATA" -X stream -R --checkpoint=fast
        as_pg sh -c "echo \"primary_conninfo = 'host=127.0.0.1 port=$PG_PORT user=postgres application_name=$STANDBY_NAME'\" >>'$STANDBY_DATA/postgresql.auto.conf'"
      fi
      port_open "$STANDBY_PORT" && die "port $STANDBY_PORT is taken; set MYMEDIC_STANDBY_PORT to a free port"
      quiet as_pg "$(pg_bin)/pg_ctl" -w -D "$STANDBY_DATA" -l "$PGDIR/standby.log" \
        -o "-c listen_addresses=127.0.0.1 -p $STANDBY_PORT -k '$PGSOCK' $PG_LIMITS -c wal_level=logical" start 9>&- ||
        { tail -n 20 "$PGDIR/standby.log" >&2; die "the standby failed to start"; }
      STARTED+=(standby)
    fi
    [[ ${MYMEDIC_SYNC_REPLICATION:-} == 1 ]] && names=$STANDBY_NAME
  fi
  [[ $("${psql[@]}" -tAc "show synchronous_standby_names") == "$names" ]] && return
  quiet "${psql[@]}" -c "alter system set synchronous_standby_names = '$names'" -c "select pg_reload_conf()"
}

# The event bus, only when asked: MYMEDIC_EVENT_BUS=local (or a nats:// URL on this machine's
# port NATS_PORT) starts a JetStream nats-server with its store under .local/nats.
nats_running() { [[ -f $NDIR/nats.pid ]] && [[ $(cat "/proc/$(<"$NDIR/nats.pid")/comm" 2>/dev/null) == nats-server ]]; }
start_nats() {
  case ${MYMEDIC_EVENT_BUS:-} in
    "") return ;;
    local) export MYMEDIC_EVENT_BUS=nats://127.0.0.1:$NATS_PORT ;;
    nats://127.0.0.1:$NATS_PORT | nats://localhost:$NATS_PORT) ;;
    *) return ;; # a bus elsewhere: nothing to start here
  esac
  nats_running && return
  port_open "$NATS_PORT" && die "port $NATS_PORT is taken by another program; set MYMEDIC_NATS_PORT to a free port"
  command -v nats-server >/dev/null || die "nats-server not installed; run 'scripts/local.sh system'"
  mkdir -p "$NDIR"
  setsid nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$NDIR/store" -P "$NDIR/nats.pid" \
    -l "$NDIR/nats.log" 9>&- </dev/null >/dev/null 2>&1 &
  for _ in {1..50}; do
    port_open "$NATS_PORT" && { STARTED+=(nats); return; }
    sleep 0.1
  done
  tail -n 20 "$NDIR/nats.log" >&2
  die "nats-server failed to start"
}

cmd_services_start() {
  lock
  start_pg
  start_standby
  start_redis
  start_nats
  unlock
  {
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/mymedic"
    echo "export REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    echo "export MYMEDIC_LOCAL_DIR=$(printf %q "$LOCAL")"
    echo "export MYMEDIC_ENV=local"
    [[ -z ${MYMEDIC_EVENT_BUS:-} ]] || echo "export MYMEDIC_EVENT_BUS=$(printf %q "$MYMEDIC_EVENT_BUS")"
  } >"$LOCAL/env.sh"
  [[ -z ${MYMEDIC_STARTED_FILE:-} ]] || echo "${STARTED[*]}" >"$MYMEDIC_STARTED_FILE"
  local new=" (started: ${STARTED[*]})"
  ((${#STARTED[@]})) || new=" (already running)"
  say "postgres on 127.0.0.1:$PG_PORT, redis on 127.0.0.1:$REDIS_PORT$new"
  if [[ ${REPLICA:-} == 1 ]]; then
    local mode=asynchronous
    [[ ${MYMEDIC_SYNC_REPLICATION:-} == 1 ]] && mode=synchronous
    say "standby on 127.0.0.1:$STANDBY_PORT ($mode); failover: docs/OPERATIONS.md"
  fi
  [[ -z ${MYMEDIC_EVENT_BUS:-} ]] || say "event bus: ${MYMEDIC_EVENT_BUS%%\?*}"
}

cmd_services_stop() {
  local s stopped=()
  (($#)) || set -- standby postgres redis nats
  [[ -d $LOCAL ]] || { say "services: not running"; return; }
  lock
  for s in "$@"; do
    case $s in
      postgres) pg_running && quiet as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w stop && stopped+=(postgres) ;;
      standby) standby_running && quiet as_pg "$(pg_bin)/pg_ctl" -D "$STANDBY_DATA" -m fast -w stop && stopped+=(standby) ;;
      redis)
        if redis_running; then
          redis-cli -p "$(<"$RDIR/port")" shutdown nosave &>/dev/null || kill "$(<"$RDIR/redis.pid")" 2>/dev/null || true
          for _ in {1..50}; do redis_running || break; sleep 0.1; done
          stopped+=(redis)
        fi ;;
      nats)
        if nats_running; then
          kill "$(<"$NDIR/nats.pid")" 2>/dev/null || true
          for _ in {1..50}; do nats_running || break; sleep 0.1; done
          stopped+=(nats)
        fi ;;
      *) die "unknown service: $s" ;;
    esac
  done
  unlock
  if ((${#stopped[@]})); then say "services: stopped ${stopped[*]}"; else say "services: not running"; fi
}

cmd_env() {
  [[ -f $LOCAL/env.sh ]] || die "$LOCAL/env.sh missing; run 'scripts/local.sh services-start'"
  say "$LOCAL/env.sh"
}

# --- foreground commands with cleanup ---------------------------------------------
# Stop only what this invocation started, whichever way it ends.
CHILD=
cleanup() {
  rm -f "$LOG"
  ((${#STARTED[@]} == 0)) || cmd_services_stop "${STARTED[@]}" || true
}
on_signal() { # $1: signal, $2: exit code
  [[ -n $CHILD ]] || exit "$2"
  # Ctrl-C already reached the child through the terminal; TERM (make forwards it
  # to us only) must be passed on.
  [[ $1 == INT ]] || kill -TERM "$CHILD" 2>/dev/null || true
}
own_services() {
  trap cleanup EXIT
  trap 'on_signal INT 130' INT
  trap 'on_signal TERM 143' TERM
}

# Run in the background so signal traps fire while we wait. Background jobs of a
# non-interactive shell ignore SIGINT; restore it so Ctrl-C reaches the child.
run_child() {
  env --default-signal=INT "$@" &
  CHILD=$!
  while kill -0 "$CHILD" 2>/dev/null; do wait "$CHILD" || true; done
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=
  return "$rc"
}

manage() {
  # shellcheck source=/dev/null
  source "$LOCAL/env.sh"
  run_child .venv/bin/python manage.py "$@"
}

cmd_setup() {
  cmd_system
  cmd_venv
  cmd_npm
  cmd_services_start
  manage setup_local
}

cmd_run() {
  own_services
  [[ -z ${CELLS:-} ]] || { run_cells; return; }
  cmd_setup
  export PORT=${PORT:-8000} PATH=$ROOT/.venv/bin:$PATH
  # With the standby, read-mostly work (reports, exports) reads from it (apps/core/replica.py).
  [[ ${REPLICA:-} != 1 ]] || export MYMEDIC_REPLICA_URL=${MYMEDIC_REPLICA_URL:-postgres://postgres@127.0.0.1:$STANDBY_PORT/mymedic}
  # The Procfile's `relay` runs only with an event bus (MYMEDIC_EVENT_BUS).
  local processes
  processes=$(sed -n 's/^\([A-Za-z0-9_-]*\):.*/\1/p' Procfile)
  [[ -n ${MYMEDIC_EVENT_BUS:-} ]] || processes=$(grep -vx relay <<<"$processes")
  # shellcheck disable=SC2086  # one word per process name
  run_child honcho start -f Procfile -p "$PORT" $processes
}

# --- several cells (make run CELLS=in,gcc) -------------------------------------------
# One cell per region named in CELLS: the first keeps the `mymedic` database (which also holds
# the global directory), this checkout's Redis and the demo chain; each other cell gets its
# own database in this cluster (mymedic_<name>), its own Redis server (port + 900 per cell),
# its own web, worker, jobs and beat processes and its own files under cells/<name>/. The edge
# (`manage.py edge`, nginx) listens on $PORT and routes every host to its cell.
CELL_REDIS=() # redis servers this invocation started for extra cells (their pid files)
stop_cell_redis() {
  local pidfile
  for pidfile in "${CELL_REDIS[@]}"; do
    [[ -f $pidfile ]] && kill "$(<"$pidfile")" 2>/dev/null || true
  done
}

run_cells() {
  local names i=0 name db redis_port web_port json= envfile procfile=$LOCAL/Procfile.cells
  IFS=, read -r -a names <<<"$CELLS"
  cmd_system
  cmd_venv
  cmd_services_start
  trap 'stop_cell_redis; cleanup' EXIT
  export PORT=${PORT:-8000} PATH=$ROOT/.venv/bin:$PATH
  local psql=("$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1)
  for name in "${names[@]}"; do
    [[ $name =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "CELLS: '$name' is not a cell name"
    db=mymedic; ((i == 0)) || db=mymedic_${name//-/_}
    web_port=$((PORT + 10 + i))
    json+="${json:+,}\"$name\": {\"region\": \"$name\", \"capacity\": 10000,"
    json+=" \"database_url\": \"postgres://postgres@127.0.0.1:$PG_PORT/$db\","
    json+=" \"url\": \"http://127.0.0.1:$web_port\"}"
    i=$((i + 1))
  done
  json="{$json}"
  i=0
  : >"$procfile"
  for name in "${names[@]}"; do
    db=mymedic; redis_port=$REDIS_PORT
    if ((i > 0)); then
      db=mymedic_${name//-/_}
      redis_port=$((REDIS_PORT + 900 * i))
      [[ $("${psql[@]}" -tAc "select 1 from pg_database where datname = '$db'") == 1 ]] ||
        quiet "${psql[@]}" -c "create database $db"
      mkdir -p "$LOCAL/cells/$name/redis"
      if ! redis-cli -p "$redis_port" ping &>/dev/null; then
        quiet redis-server --port "$redis_port" --bind 127.0.0.1 --daemonize yes --save '' \
          --appendonly no --dir "$LOCAL/cells/$name/redis" --pidfile "$LOCAL/cells/$name/redis/redis.pid" \
          --logfile "$LOCAL/cells/$name/redis/redis.log"
        CELL_REDIS+=("$LOCAL/cells/$name/redis/redis.pid")
      fi
    fi
    mkdir -p "$LOCAL/cells/$name"
    envfile=$LOCAL/cells/$name/env.sh
    {
      echo "export DATABASE_URL='postgres://postgres@127.0.0.1:$PG_PORT/$db'"
      echo "export REDIS_URL='redis://127.0.0.1:$redis_port/0'"
      echo "export MYMEDIC_LOCAL_DIR='$LOCAL' MYMEDIC_ENV=local MYMEDIC_CELL='$name'"
      echo "export MYMEDIC_CELLS_JSON='$json'"
      echo "export MYMEDIC_DIRECTORY_DATABASE_URL='postgres://postgres@127.0.0.1:$PG_PORT/mymedic'"
      echo "export MYMEDIC_DIRECTORY_CELL='${names[0]}' MYMEDIC_TRUSTED_PROXIES=127.0.0.1"
      echo "export MYMEDIC_WEB_BIND=127.0.0.1:$((PORT + 10 + i)) MYMEDIC_WEB_WORKERS=1"
      echo "export MYMEDIC_STATIC_ROOT='$LOCAL/static'"
    } >"$envfile"
    say "cell $name: database $db, redis $redis_port, web 127.0.0.1:$((PORT + 10 + i))"
    local demo=(); ((i == 0)) || demo=(--no-demo)
    (source "$envfile" && run_child .venv/bin/python manage.py setup_local "${demo[@]}")
    if ((i == 0)); then
      echo "edge: . '$envfile' && exec python manage.py edge --port $PORT" >>"$procfile"
    fi
    {
      echo "web_$name: . '$envfile' && exec gunicorn -c python:mymedic.gunicorn"
      echo "worker_$name: . '$envfile' && exec celery -A mymedic worker -l info -Q projections --concurrency 1 -n projections-$name@%h"
      echo "jobs_$name: . '$envfile' && exec celery -A mymedic worker -l info -Q default,notifications,reports,integration --concurrency 1 -n jobs-$name@%h"
      echo "beat_$name: . '$envfile' && exec celery -A mymedic beat -l info --schedule '$LOCAL/cells/$name/celerybeat-schedule'"
    } >>"$procfile"
    i=$((i + 1))
  done
  run_child honcho start -f "$procfile" -p "$PORT"
}

cmd_test() {
  local args=() rc=0
  own_services
  export MYMEDIC_PG_OPTS=${MYMEDIC_PG_OPTS-"-c fsync=off -c synchronous_commit=off -c full_page_writes=off"}
  cmd_system
  cmd_venv
  cmd_npm
  cmd_services_start
  # shellcheck source=/dev/null
  source "$LOCAL/env.sh"
  eval "args=(${PYTEST_ARGS:-})" # shell-style quoting, e.g. PYTEST_ARGS='-k "a and b"'
  # The suite starts hundreds of Python processes (its workers, and servers, Celery workers
  # and scripts for single tests), each importing the project: compile it once, into the
  # ignored __pycache__ folders, not once per process (docs/TESTING.md).
  unset PYTHONDONTWRITEBYTECODE
  # One pytest-xdist worker per core, each with its own test database, Redis and files
  # (tests/isolation.py); MYMEDIC_TEST_WORKERS=1 runs serially. docs/TESTING.md.
  local workers=${MYMEDIC_TEST_WORKERS:-$(nproc)} parallel=()
  [[ $workers =~ ^[1-9][0-9]*$ ]] || die "MYMEDIC_TEST_WORKERS must be a positive number"
  ((workers == 1)) || parallel=(-n "$workers" --dist loadgroup)
  run_child .venv/bin/python -m pytest "${parallel[@]}" "${args[@]}" "$@" || rc=$?
  ((rc != 5)) || say "test: no tests were collected (pytest exit 5)"
  exit "$rc"
}

cmd_bench() {
  cmd_setup
  manage bench "$@"
}

cmd_backup() {
  pg_running || die "postgres is not running; start it with MYMEDIC_WAL_ARCHIVE=1 make run"
  scripts/backup.sh base --port "$PG_PORT" --out "$LOCAL/backups/base-$(date -u +%Y%m%dT%H%M%SZ)"
}

cmd_restore() {
  local base
  base=$(compgen -G "$LOCAL/backups/base-*" | sort | tail -n1) || true
  [[ -n $base ]] || die "no base backup under $LOCAL/backups; run 'make backup' first"
  scripts/backup.sh restore --base "$base" --archive "$WAL_ARCHIVE" --to "${TO:-latest}" \
    --datadir "$LOCAL/restored-$(date -u +%Y%m%dT%H%M%SZ)" --port "${MYMEDIC_RESTORE_PORT:-$((55000 + OFFSET))}" \
    --server-options "$PG_LIMITS"
}

cmd_clean() {
  cmd_services_stop
  if [[ -n ${MYMEDIC_LOCAL_DIR:-} ]]; then
    # A user-chosen dir may hold other things: remove only what we put there.
    rm -rf "${LOCAL:?}"/{postgres,redis,env.sh,.lock,celerybeat-schedule*}
  else
    rm -rf "${LOCAL:?}"
  fi
  rm -rf .venv
  say "clean: removed $LOCAL and .venv"
}

cmd=${1:-}
(($#)) && shift
case $cmd in
  system | venv | npm | env | setup | run | test | bench | clean | backup | restore) "cmd_$cmd" "$@" ;;
  services-start) cmd_services_start ;;
  services-stop) cmd_services_stop "$@" ;;
  *) sed -n '2,7s/^# \?//p' "$0" >&2; exit 2 ;;
esac

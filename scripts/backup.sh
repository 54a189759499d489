#!/usr/bin/env bash
# Point-in-time recovery for MyMedic's PostgreSQL cluster: WAL archive, base backups, restore.
# Usage: scripts/backup.sh COMMAND [OPTIONS]
#   archive-settings --archive DIR [--timeout SECONDS]   postgres -c options that archive WAL
#   base     --port PORT --out DIR [--host HOST]          a base backup into a new dir DIR
#   restore  --base DIR --archive DIR --datadir NEW --port PORT [--to TIME|latest] [--wait S]
#            [--server-options '-c name=value ...']
#   stop     --datadir DIR                                stop a cluster that restore started
#   status   --port PORT [--host HOST]                    what the archiver has done
# See docs/OPERATIONS.md ("Backups and restore") for the runbook.
set -euo pipefail

say() { printf '%s\n' "$*"; }
die() { printf 'backup.sh: %s\n' "$*" >&2; exit 1; }

# initdb, postgres and pg_basebackup run as the postgres user (they refuse root, and the
# files they make must belong to the server). cd / because the caller's cwd may be closed to it.
as_pg() { if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

pg_bin() {
  if [[ -n ${MYMEDIC_PG_BIN:-} ]]; then echo "$MYMEDIC_PG_BIN"; return; fi
  compgen -G '/usr/lib/postgresql/*/bin/pg_basebackup' | sort -V | tail -n1 | xargs -r dirname
}
BIN=$(pg_bin)
[[ -n $BIN && -x $BIN/pg_basebackup ]] || die "PostgreSQL binaries not found; set MYMEDIC_PG_BIN"

port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }
psql_at() { # host port sql
  "$BIN/psql" -h "$1" -p "$2" -U postgres -d postgres -X -q -tA -v ON_ERROR_STOP=1 -c "$3"
}
now_ms() { date +%s%3N; }

# A directory the server writes in: made for postgres when missing, with any missing parent
# (an existing one is left as it is, and must be writable by postgres).
make_pg_dir() {
  [[ -d $1 ]] && return
  make_pg_dir "$(dirname "$1")"
  mkdir "$1"
  ((EUID != 0)) || chown postgres: "$1"
  chmod 700 "$1"
}
pg_dir() {
  make_pg_dir "$1"
  as_pg test -w "$1" -a -x "$1" || die "user postgres cannot write in $1"
}

# --- archive-settings ------------------------------------------------------------
# The archive command never overwrites: a segment already archived is accepted only when it
# is byte-identical (a retry after a crash between copy and acknowledgement), otherwise it
# fails and PostgreSQL keeps the segment and retries. The copy lands under a temporary name,
# is fsynced, and is linked into place (link(2) refuses an existing name), so a reader of
# the archive never sees half a segment.
archive_command() { # dir
  local d=$1
  printf '%s' "if test -f '$d/%f'; then cmp -s '%p' '$d/%f'; else cp '%p' '$d/%f.part' && sync '$d/%f.part' && ln '$d/%f.part' '$d/%f' && rm '$d/%f.part' && sync '$d'; fi"
}

cmd_archive_settings() {
  local archive='' timeout=60
  while (($#)); do
    case $1 in
      --archive) archive=$(realpath -m "$2"); shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      *) die "archive-settings: unknown option $1" ;;
    esac
  done
  [[ -n $archive ]] || die "archive-settings: --archive DIR is required"
  [[ $archive != *"'"* && $archive != *'"'* && $archive != *' '* ]] ||
    die "archive-settings: the archive path may not contain quotes or spaces"
  pg_dir "$archive"
  # wal_level=replica is the default; said here so a tuned postgresql.conf cannot undo it.
  printf '%s\n' "-c wal_level=replica -c archive_mode=on -c archive_timeout=${timeout}s -c \"archive_command=$(archive_command "$archive")\""
}

# --- base ------------------------------------------------------------------------
cmd_base() {
  local host=127.0.0.1 port='' out='' started
  while (($#)); do
    case $1 in
      --host) host=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      --out) out=$(realpath -m "$2"); shift 2 ;;
      *) die "base: unknown option $1" ;;
    esac
  done
  [[ -n $port && -n $out ]] || die "base: --port and --out are required"
  [[ ! -e $out ]] || die "base: $out exists; a base backup never overwrites another"
  pg_dir "$(dirname "$out")"
  started=$(now_ms)
  say "base: pg_basebackup from $host:$port into $out"
  # Plain format with the WAL it needs streamed alongside (self-contained even without the
  # archive), a fast checkpoint so it starts at once, and a manifest for pg_verifybackup.
  as_pg "$BIN/pg_basebackup" -h "$host" -p "$port" -U postgres -w -D "$out" -Fp -X stream \
    --checkpoint=fast --label "mymedic $(date -u +%FT%TZ)" --manifest-checksums=CRC32C --progress 2>&1 |
    tr '\r' '\n' | tail -n 1
  as_pg "$BIN/pg_verifybackup" -q "$out" || die "base: $out does not verify"
  say "base: done in $(( ($(now_ms) - started) ))ms, $(du -sh "$out" | cut -f1), started at $(sed -n 's/^START TIME: //p' "$out/backup_label")"
}

# --- restore -----------------------------------------------------------------------
cmd_restore() {
  local base='' archive='' datadir='' port='' to=latest wait=300 extra='' started sock deadline state
  while (($#)); do
    case $1 in
      --base) base=$(realpath -m "$2"); shift 2 ;;
      --archive) archive=$(realpath -m "$2"); shift 2 ;;
      --datadir) datadir=$(realpath -m "$2"); shift 2 ;;
      --port) port=$2; shift 2 ;;
      --to) to=$2; shift 2 ;;
      --wait) wait=$2; shift 2 ;;
      --server-options) extra=$2; shift 2 ;;
      *) die "restore: unknown option $1" ;;
    esac
  done
  [[ -n $base && -n $archive && -n $datadir && -n $port ]] ||
    die "restore: --base, --archive, --datadir and --port are required"
  [[ -f $base/backup_manifest ]] || die "restore: $base is not a base backup (no backup_manifest)"
  [[ -d $archive ]] || die "restore: no WAL archive at $archive"
  [[ ! -e $datadir ]] || die "restore: $datadir exists; restore into a new directory"
  ! port_open "$port" || die "restore: port $port is taken"
  started=$(now_ms)
  as_pg "$BIN/pg_verifybackup" -q "$base" || die "restore: $base does not verify"
  pg_dir "$datadir"
  as_pg cp -a "$base/." "$datadir/"
  as_pg rm -f "$datadir/backup_manifest"
  {
    echo "# Written by scripts/backup.sh restore at $(date -u +%FT%TZ)"
    echo "restore_command = 'cp \"$archive/%f\" \"%p\"'"
    if [[ $to != latest ]]; then
      echo "recovery_target_time = '$to'"
    fi
    echo "recovery_target_action = 'promote'"
    # The restored cluster is a new history: it must not add its WAL to the source's archive.
    echo "archive_mode = 'off'"
  } | as_pg tee -a "$datadir/postgresql.auto.conf" >/dev/null
  as_pg touch "$datadir/recovery.signal"
  sock=$datadir
  ((${#sock} < 80)) || sock=/tmp
  say "restore: recovering $base to ${to} on 127.0.0.1:$port"
  as_pg "$BIN/pg_ctl" -D "$datadir" -l "$datadir/postgres.log" -w -t "$wait" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k '$sock' $extra" start >/dev/null ||
    { tail -n 20 "$datadir/postgres.log" >&2; die "restore: postgres did not start"; }
  deadline=$(($(now_ms) + wait * 1000))
  while :; do
    state=$(psql_at 127.0.0.1 "$port" 'select pg_is_in_recovery()' 2>/dev/null || true)
    [[ $state == f ]] && break
    if ! as_pg "$BIN/pg_ctl" -D "$datadir" status >/dev/null; then
      tail -n 20 "$datadir/postgres.log" >&2
      die "restore: postgres stopped during recovery (a target after the last archived commit? use --to latest)"
    fi
    if (($(now_ms) > deadline)); then
      tail -n 20 "$datadir/postgres.log" >&2
      die "restore: not promoted within ${wait}s; postgres is still running on port $port"
    fi
    sleep 0.1
  done
  say "restore: promoted in $(( $(now_ms) - started ))ms; postgres (pid $(head -n1 "$datadir/postmaster.pid")) on 127.0.0.1:$port, data in $datadir"
  say "restore: stop it with: scripts/backup.sh stop --datadir $datadir"
  say "restore: $(grep -h -E 'recovery stopping|redo done|archive recovery complete' "$datadir/postgres.log" | sed 's/^.*LOG: *//' | paste -sd';' -)"
}

# --- stop ------------------------------------------------------------------------
cmd_stop() {
  local datadir=''
  while (($#)); do
    case $1 in
      --datadir) datadir=$(realpath -m "$2"); shift 2 ;;
      *) die "stop: unknown option $1" ;;
    esac
  done
  [[ -f $datadir/postmaster.pid ]] || die "stop: no server runs from $datadir"
  as_pg "$BIN/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null
  say "stop: stopped the server of $datadir"
}

# --- status ----------------------------------------------------------------------
cmd_status() {
  local host=127.0.0.1 port=''
  while (($#)); do
    case $1 in
      --host) host=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      *) die "status: unknown option $1" ;;
    esac
  done
  [[ -n $port ]] || die "status: --port is required"
  psql_at "$host" "$port" "select 'archive_mode=' || current_setting('archive_mode') || ' archive_timeout=' || current_setting('archive_timeout') || ' archived=' || archived_count || ' last=' || coalesce(last_archived_wal, '-') || ' at ' || coalesce(last_archived_time::text, '-') || ' failed=' || failed_count || ' current=' || pg_walfile_name(pg_current_wal_lsn()) from pg_stat_archiver"
}

cmd=${1:-}
(($#)) && shift
case $cmd in
  archive-settings | base | restore | stop | status) "cmd_${cmd//-/_}" "$@" ;;
  *) sed -n '2,10s/^# \?//p' "$0" >&2; exit 2 ;;
esac

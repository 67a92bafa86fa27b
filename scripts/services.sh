#!/usr/bin/env bash
# Bring up (or down) the real servers the integration tests talk to.
#
#   bash scripts/services.sh up      # install + start everything, idempotent
#   bash scripts/services.sh status  # print state, exit 1 if something is down
#   bash scripts/services.sh down    # stop only what this script started
#
# Servers: Docker Engine (+ a locally built busybox image), PostgreSQL
# (the Debian cluster, with WAL archiving into a pgBackRest stanza), OpenSSH
# sshd on 127.0.0.1:2222.  Prometheus is only installed: the tests start one
# instance per test with a temp config.
#
# State (pid files, logs, keys, env.sh, services.json) lives in
# <repo>/.services/, which is gitignored.  Must run as root (apt, dockerd).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"
STATE_DIR="$REPO_ROOT/.services"

DOCKER_SOCK=/var/run/docker.sock
DOCKER_HOST_URL="unix://$DOCKER_SOCK"
BUSYBOX_IMAGE="launchdeck-test/busybox:1"

PG_HOST=127.0.0.1
PG_USER=launchdeck
PG_PASSWORD=launchdeck-test

# pgBackRest: our own config file (the package's default
# /etc/pgbackrest/pgbackrest.conf is left alone) and our own repository.
PGBR_STANZA=launchdeck
PGBR_CONF_DIR=/etc/pgbackrest
PGBR_CONF="$PGBR_CONF_DIR/launchdeck.conf"
PGBR_REPO=/var/lib/pgbackrest-launchdeck
PGBR_LOG_DIR=/var/log/pgbackrest  # pgBackRest's default log-path

SSH_DIR="$STATE_DIR/ssh"
SSH_HOST=127.0.0.1
SSH_PORT=2222
SSH_USER=root

export DEBIAN_FRONTEND=noninteractive

# Filled in by the *_up functions, consumed by write_state_files.
PG_VERSION="" PG_CLUSTER="" PG_PORT="" PG_DATA="" PG_LOG="" PG_BINDIR=""
PROMETHEUS_BIN="" PROMETHEUS_VERSION=""
PGBACKREST_BIN=""
DOCKER_SERVER_VERSION=""

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

log() { printf '%s\n' "$*"; }

# One line per server: "<server>   <state>", name padded to a fixed width.
report() { printf '%-11s %s\n' "$1" "$2"; }

# die SERVER WHY [LOGFILE]: exit non-zero naming the server, the reason and
# the tail of its log.
die() {
  local server="$1" why="$2" logfile="${3:-}"
  {
    printf 'services.sh: FAILED to bring up %s: %s\n' "$server" "$why"
    if [[ -n "$logfile" && -r "$logfile" ]]; then
      # dockerd in particular buries its one fatal line under grpc chatter.
      if grep -qiE 'level=(error|fatal)|fatal|error:|failed to' "$logfile"; then
        printf -- '--- error lines in %s ---\n' "$logfile"
        grep -iE 'level=(error|fatal)|fatal|error:|failed to' "$logfile" | tail -n 10 || true
      fi
      printf -- '--- last 30 lines of %s ---\n' "$logfile"
      tail -n 30 "$logfile" || true
      printf -- '--- end of %s ---\n' "$logfile"
    fi
  } >&2
  exit 1
}

# pid_alive PIDFILE [COMM]: true if the pid in PIDFILE is a live process
# (and, if given, its /proc/<pid>/comm equals COMM, to survive pid reuse).
pid_alive() {
  local pidfile="$1" comm="${2:-}" pid
  [[ -s "$pidfile" ]] || return 1
  pid="$(head -n1 "$pidfile" | tr -dc '0-9')"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  if [[ -n "$comm" ]]; then
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]] || return 1
  fi
}

# stop_pidfile NAME PIDFILE COMM TIMEOUT: SIGTERM, wait, then SIGKILL.
stop_pidfile() {
  local name="$1" pidfile="$2" comm="$3" timeout="$4" pid i
  if ! pid_alive "$pidfile" "$comm"; then
    rm -f "$pidfile"
    report "$name" "not running (nothing started by services.sh)"
    return 0
  fi
  pid="$(head -n1 "$pidfile" | tr -dc '0-9')"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    report "$name" "stopped (pid $pid, SIGKILL after ${timeout}s)"
  else
    report "$name" "stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}

json_str() {  # minimal JSON string escaping (paths/versions only)
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '"%s"' "$s"
}

# Replace FILE with the content of TMP only if it differs (keeps a warm
# `up` from touching anything).
install_if_changed() {
  local tmp="$1" dest="$2"
  if [[ -f "$dest" ]] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$dest"
  fi
}

require_root() {
  if [[ "$(id -u)" != 0 ]]; then
    echo "services.sh: must run as root (apt-get, dockerd, sshd for root)" >&2
    exit 1
  fi
}

# --------------------------------------------------------------------------
# 1. Debian packages
# --------------------------------------------------------------------------

ensure_packages() {
  local missing=()
  # binary -> Debian package that provides it
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker >/dev/null || missing+=(docker.io)
  # The image must be built from a *static* busybox (no libc in the rootfs);
  # the dynamic `busybox` package would also provide /bin/busybox.
  dpkg_installed busybox-static || missing+=(busybox-static)
  command -v prometheus >/dev/null || missing+=(prometheus)
  [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v ssh-keygen >/dev/null || missing+=(openssh-client)
  command -v tmux >/dev/null || missing+=(tmux)
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  command -v psql >/dev/null || missing+=(postgresql-client)
  command -v pgbackrest >/dev/null || missing+=(pgbackrest)

  if ((${#missing[@]} == 0)); then
    report packages "ok (all binaries present)"
    return 0
  fi
  # de-duplicate
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "packages: installing ${missing[*]}"
  mkdir -p "$STATE_DIR"
  local aptlog="$STATE_DIR/apt.log"

  # Keep package postinst scripts from starting daemons (docker, sshd on :22,
  # postgres) behind our back: `down` could not stop those, and a second
  # dockerd would fight ours over /var/run/docker.sock.  Only if the machine
  # has no policy of its own.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  local rc=0
  {
    apt-get update -q &&
      apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${missing[@]}"
  } </dev/null >"$aptlog" 2>&1 || rc=$?
  ((own_policy)) && rm -f "$policy"
  ((rc == 0)) || die packages "apt-get install ${missing[*]} failed (rc=$rc)" "$aptlog"
  local bin
  for bin in dockerd docker busybox prometheus ssh ssh-keygen tmux pg_ctlcluster pg_lsclusters psql pgbackrest; do
    command -v "$bin" >/dev/null || die packages "'$bin' still not on PATH after installing ${missing[*]}" "$aptlog"
  done
  [[ -x /usr/sbin/sshd ]] || die packages "/usr/sbin/sshd missing after installing ${missing[*]}" "$aptlog"
  report packages "installed ${missing[*]}"
}

dpkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# Debian's chromium for the browser-view test (tests/integration/test_serve_browser.py): Playwright
# from PyPI drives it with executable_path=/usr/bin/chromium (no `playwright install`).
chromium_up() {
  if [[ -x /usr/bin/chromium ]]; then
    report chromium "ok (/usr/bin/chromium)"
    return 0
  fi
  mkdir -p "$STATE_DIR"
  local aptlog="$STATE_DIR/apt-chromium.log" rc=0
  {
    apt-get install -y -q --no-install-recommends chromium ||
      { apt-get update -q && apt-get install -y -q --no-install-recommends chromium; }
  } </dev/null >"$aptlog" 2>&1 || rc=$?
  ((rc == 0)) && [[ -x /usr/bin/chromium ]] || die chromium "apt-get install chromium failed (rc=$rc)" "$aptlog"
  report chromium "installed ($(/usr/bin/chromium --version 2>/dev/null | head -n1))"
}

# --------------------------------------------------------------------------
# 2. Docker Engine + busybox image
# --------------------------------------------------------------------------

docker_cli() { docker -H "$DOCKER_HOST_URL" "$@"; }

docker_up() {
  local pidfile="$STATE_DIR/dockerd.pid" logfile="$STATE_DIR/dockerd.log" how i
  if docker_cli info >/dev/null 2>&1; then
    if pid_alive "$pidfile" dockerd; then
      how="already running (pid $(cat "$pidfile"), started by services.sh)"
    else
      how="already running (not started by services.sh; left alone by down)"
    fi
  else
    # Stock flags work in this sandbox (cgroup v1 + cgroupfs driver, overlay2
    # on ext4, iptables-nft, docker0 bridge), so we do not override anything
    # except where the pid file lives.  Memory limits, `docker stats`
    # CPU/memory, healthchecks and restart policies were all verified with
    # these defaults.
    # setsid: own session so Ctrl-C / the CI step ending does not kill it.
    setsid nohup /usr/sbin/dockerd \
      --host="$DOCKER_HOST_URL" \
      --pidfile="$pidfile" \
      </dev/null >>"$logfile" 2>&1 9>&- &
    local launcher=$!
    for ((i = 0; i < 80; i++)); do
      docker_cli info >/dev/null 2>&1 && break
      # dockerd exited early (bad flags, socket in use, ...): fail fast.  (If
      # setsid had to fork, $launcher is gone at once, hence the pidfile check
      # and the short grace period.)
      if ((i >= 4)) && ! kill -0 "$launcher" 2>/dev/null && ! pid_alive "$pidfile" dockerd; then
        die docker "dockerd exited during startup" "$logfile"
      fi
      sleep 0.5
    done
    docker_cli info >/dev/null 2>&1 ||
      die docker "dockerd did not answer on $DOCKER_SOCK within 40s" "$logfile"
    # dockerd writes --pidfile itself; fall back to the launcher pid.
    pid_alive "$pidfile" dockerd || echo "$launcher" >"$pidfile"
    how="started (pid $(cat "$pidfile"), log .services/dockerd.log)"
  fi
  DOCKER_SERVER_VERSION="$(docker_cli version --format '{{.Server.Version}}' 2>/dev/null || echo unknown)"
  report docker "$how, engine $DOCKER_SERVER_VERSION, $DOCKER_HOST_URL"
}

busybox_image_up() {
  local logfile="$STATE_DIR/busybox-image.log" how="present"
  if ! docker_cli image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then
    build_busybox_image >"$logfile" 2>&1 ||
      die busybox-image "building $BUSYBOX_IMAGE failed" "$logfile"
    how="built"
  fi
  local out
  out="$(docker_cli run --rm "$BUSYBOX_IMAGE" echo ok 2>&1)" ||
    die busybox-image "docker run --rm $BUSYBOX_IMAGE echo ok failed: $out" "$STATE_DIR/dockerd.log"
  [[ "$out" == ok ]] ||
    die busybox-image "docker run printed '$out' instead of 'ok'" "$STATE_DIR/dockerd.log"
  report image "$BUSYBOX_IMAGE $how, docker run echo ok -> ok"
}

# No registry is reachable, so build a minimal image from the host's static
# busybox: one symlink per applet, at busybox's own install path and in /bin.
build_busybox_image() {
  # Called in a `|| die` context, where bash ignores set -e: check each step.
  local bb rootfs applet rc=0
  bb="$(dpkg -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1 || true)"
  [[ -x "$bb" ]] || bb=/bin/busybox
  "$bb" true || { echo "no working static busybox at $bb"; return 1; }
  rootfs="$(mktemp -d "$STATE_DIR/busybox-rootfs.XXXXXX")" || return 1
  {
    mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,root,proc,sys,dev,run,tmp,var/log} &&
      chmod 1777 "$rootfs/tmp" &&
      cp "$bb" "$rootfs/bin/busybox" &&
      printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd" &&
      printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  } || rc=1
  if ((rc == 0)); then
    while read -r applet; do
      [[ "$applet" == */busybox ]] && continue
      mkdir -p "$rootfs/$(dirname "$applet")" || rc=1
      # at busybox's canonical path (e.g. /usr/bin/env) and in /bin
      [[ -e "$rootfs/$applet" ]] || ln -s /bin/busybox "$rootfs/$applet" || rc=1
      [[ -e "$rootfs/bin/${applet##*/}" ]] || ln -s busybox "$rootfs/bin/${applet##*/}" || rc=1
    done < <("$bb" --list-full)
  fi
  if ((rc == 0)); then
    tar -C "$rootfs" --numeric-owner -c . |
      docker_cli import \
        --change 'CMD ["/bin/sh"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        - "$BUSYBOX_IMAGE" || rc=1
  fi
  rm -rf "$rootfs"
  return "$rc"
}

# --------------------------------------------------------------------------
# 3. PostgreSQL
# --------------------------------------------------------------------------

# Pick the cluster: $LAUNCHDECK_PG_CLUSTER ("15/main") if set, else the
# highest-version cluster, preferring one named "main".
pg_pick_cluster() {
  local line _status _owner
  if [[ -n "${LAUNCHDECK_PG_CLUSTER:-}" ]]; then
    line="$(pg_lsclusters -h | awk -v v="${LAUNCHDECK_PG_CLUSTER%%/*}" -v c="${LAUNCHDECK_PG_CLUSTER#*/}" '$1==v && $2==c')"
  else
    line="$(pg_lsclusters -h | sort -k1,1Vr | awk '$2=="main"' | head -n1)"
    [[ -n "$line" ]] || line="$(pg_lsclusters -h | sort -k1,1Vr | head -n1)"
  fi
  [[ -n "$line" ]] || die postgres "no PostgreSQL cluster found by pg_lsclusters (create one with pg_createcluster)"
  read -r PG_VERSION PG_CLUSTER PG_PORT _status _owner PG_DATA PG_LOG <<<"$line"
  PG_BINDIR="/usr/lib/postgresql/$PG_VERSION/bin"
}

pg_status() { pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}'; }

# psql as the postgres superuser over the local socket (peer auth).
pg_admin() {
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@" </dev/null
}

# Same, reading SQL from the caller's stdin (heredoc).
pg_admin_script() {
  runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
}

pg_tcp_login_ok() {
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 psql -X -q -w -h "$PG_HOST" -p "$PG_PORT" \
    -U "$PG_USER" -d postgres -tAc 'select rolsuper and rolcreatedb from pg_roles where rolname = current_user' \
    </dev/null 2>/dev/null
}

# The server log of the picked cluster (for die).
pg_logfile() {
  if [[ "$PG_LOG" != "<unknown>" && -n "$PG_LOG" ]]; then
    printf '%s\n' "$PG_LOG"
  else
    printf '%s\n' "/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
  fi
}

# pg_restart WHY: restart the cluster (fast mode), keep the `down` marker
# pointing at the new postmaster, and wait until it accepts TCP connections.
pg_restart() {
  local why="$1" marker="$STATE_DIR/postgres.started" i
  pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart -m fast </dev/null >>"$STATE_DIR/pg_ctlcluster.log" 2>&1 9>&- ||
    die postgres "restart after $why failed: $(tail -n 5 "$STATE_DIR/pg_ctlcluster.log" | tr '\n' ' ')" "$(pg_logfile)"
  [[ -f "$marker" ]] && head -n1 "$PG_DATA/postmaster.pid" >"$marker"
  for ((i = 0; i < 20; i++)); do
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" </dev/null && break
    sleep 0.5
  done
  pg_isready -q -h "$PG_HOST" -p "$PG_PORT" </dev/null ||
    die postgres "not accepting TCP connections on $PG_HOST:$PG_PORT after restart ($why)" "$(pg_logfile)"
}

postgres_up() {
  local marker="$STATE_DIR/postgres.started" how
  pg_pick_cluster
  local logfile
  logfile="$(pg_logfile)"

  if [[ "$(pg_status)" == online* ]]; then
    if [[ -f "$marker" ]]; then how="already running (started by services.sh)"; else how="already running (not started by services.sh; left alone by down)"; fi
  else
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start </dev/null >"$STATE_DIR/pg_ctlcluster.log" 2>&1 9>&- ||
      die postgres "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed: $(tail -n 5 "$STATE_DIR/pg_ctlcluster.log" | tr '\n' ' ')" "$logfile"
    # Remember the postmaster pid so `down` stops only a postmaster we started.
    head -n1 "$PG_DATA/postmaster.pid" >"$marker"
    how="started (pid $(cat "$marker"))"
  fi

  # Must listen on 127.0.0.1 (Debian's default listen_addresses='localhost'
  # does); fix it only if someone turned TCP off.
  local listen
  listen="$(pg_admin -tAc 'show listen_addresses')" ||
    die postgres "cannot run psql as postgres over the local socket" "$logfile"
  if ! PGCONNECT_TIMEOUT=3 pg_isready -q -h "$PG_HOST" -p "$PG_PORT" </dev/null; then
    log "postgres: listen_addresses='$listen' does not cover $PG_HOST; setting 'localhost'"
    pg_admin -c "alter system set listen_addresses = 'localhost'"
    pg_restart "setting listen_addresses"
  fi

  # Role: only touch it if a password login over TCP does not already work
  # with the right attributes (ALTER ROLE ... PASSWORD would re-salt it).
  # SUPERUSER: later tests read pg_stat_archiver, call pg_switch_wal() and
  # drive pgbackrest, which need more than CREATEDB.
  if [[ "$(pg_tcp_login_ok)" != t ]]; then
    pg_admin_script -v u="$PG_USER" -v p="$PG_PASSWORD" >/dev/null <<'SQL' ||
select format('create role %I', :'u')
 where not exists (select 1 from pg_roles where rolname = :'u') \gexec
select format('alter role %I with login superuser createdb password %L', :'u', :'p') \gexec
SQL
      die postgres "creating role $PG_USER failed" "$logfile"
    [[ "$(pg_tcp_login_ok)" == t ]] ||
      die postgres "password login as $PG_USER over TCP $PG_HOST:$PG_PORT fails; check host lines in /etc/postgresql/$PG_VERSION/$PG_CLUSTER/pg_hba.conf (need scram-sha-256 or md5 for 127.0.0.1/32)" "$logfile"
    how="$how, role $PG_USER created/updated"
  fi
  report postgres "$how, $PG_VERSION/$PG_CLUSTER on $PG_HOST:$PG_PORT, role $PG_USER ok"
}

# --------------------------------------------------------------------------
# 3b. pgBackRest: WAL archiving of the cluster into the stanza "launchdeck"
# --------------------------------------------------------------------------
# The tests take real backups (`pgbackrest --config=$PGBR_CONF
# --stanza=$PGBR_STANZA --type=full backup`, as postgres) and watch
# pg_stat_archiver advance.  Everything runs as the postgres OS user, which
# owns the repository and pgBackRest's log/lock dirs.

# pgbr ARGS...: pgbackrest as postgres with our config and stanza.  cd / so
# a checkout postgres cannot read is not its working directory.
pgbr() {
  (cd / && runuser -u postgres -- "$PGBACKREST_BIN" --config="$PGBR_CONF" --stanza="$PGBR_STANZA" "$@" </dev/null)
}

# pgbr_run COMMAND WHAT: run `pgbackrest COMMAND`; on failure die with its
# console output plus the tail of the log that explains it: pgBackRest's own
# log file for commands that write one (stanza-create), the PostgreSQL log
# for `check` (it waits for archive-push, which runs from archive_command and
# writes its errors to stderr, i.e. the server log; check and archive-push
# have no log file of their own).
pgbr_run() {
  local cmd="$1" what="$2" logfile="$STATE_DIR/pgbackrest.log" rc=0 extra
  printf '=== %s pgbackrest %s\n' "$(date -u +%FT%TZ)" "$cmd" >>"$logfile"
  pgbr "$cmd" >>"$logfile" 2>&1 || rc=$?
  ((rc == 0)) && return 0
  if [[ "$cmd" == check ]]; then extra="$(pg_logfile)"; else extra="$PGBR_LOG_DIR/$PGBR_STANZA-$cmd.log"; fi
  if [[ -r "$extra" ]]; then
    {
      printf -- '--- last 15 lines of %s ---\n' "$extra"
      tail -n 15 "$extra"
    } >>"$logfile"
  fi
  die pgbackrest "$what (pgbackrest $cmd exited with status $rc)" "$logfile"
}

pgbackrest_write_config() {
  mkdir -p "$PGBR_CONF_DIR"
  local tmp
  tmp="$(mktemp "$PGBR_CONF_DIR/.launchdeck.conf.XXXXXX")"
  cat >"$tmp" <<CONF
# Generated by launchdeck scripts/services.sh -- test-only, do not edit.
[global]
repo1-path=$PGBR_REPO
repo1-retention-full=2
log-level-console=warn
start-fast=y

[$PGBR_STANZA]
pg1-path=$PG_DATA
pg1-port=$PG_PORT
CONF
  install_if_changed "$tmp" "$PGBR_CONF"
  # Readable by postgres (archive_command runs as postgres), by no one else.
  chown root:postgres "$PGBR_CONF"
  chmod 0640 "$PGBR_CONF"
  install -d -o postgres -g postgres -m 0750 "$PGBR_REPO"
  [[ -d "$PGBR_LOG_DIR" ]] || install -d -o postgres -g postgres -m 0750 "$PGBR_LOG_DIR"
}

pgbackrest_up() {
  local how=() want_cmd cur_mode cur_cmd i
  PGBACKREST_BIN="$(command -v pgbackrest)" || die pgbackrest "pgbackrest binary not found on PATH"
  : >"$STATE_DIR/pgbackrest.log"  # this run's console output (for die)
  pgbackrest_write_config

  # 1. Stanza first, so archive-push never runs against a missing stanza (a
  #    failure would count in pg_stat_archiver.failed_count).  stanza-create
  #    is idempotent itself; skip it when both info files are there (`check`
  #    below still validates them against the running cluster).
  if [[ -f "$PGBR_REPO/archive/$PGBR_STANZA/archive.info" && -f "$PGBR_REPO/backup/$PGBR_STANZA/backup.info" ]]; then
    how+=("stanza $PGBR_STANZA present")
  else
    pgbr_run stanza-create "stanza-create for stanza $PGBR_STANZA (repo $PGBR_REPO) failed"
    how+=("stanza $PGBR_STANZA created")
  fi

  # 2. archive_mode (needs a restart) and archive_command (a reload), each
  #    only if the running server does not already have it.
  want_cmd="pgbackrest --config=$PGBR_CONF --stanza=$PGBR_STANZA archive-push %p"
  cur_mode="$(pg_admin -tAc 'show archive_mode')" ||
    die pgbackrest "cannot read archive_mode as postgres" "$(pg_logfile)"
  cur_cmd="$(pg_admin -tAc 'show archive_command')" ||
    die pgbackrest "cannot read archive_command as postgres" "$(pg_logfile)"
  if [[ "$cur_cmd" != "$want_cmd" ]]; then
    pg_admin_script -v cmd="$want_cmd" >/dev/null <<'SQL' ||
alter system set archive_command = :'cmd';
SQL
      die pgbackrest "ALTER SYSTEM SET archive_command failed" "$(pg_logfile)"
  fi
  if [[ "$cur_mode" != on && "$cur_mode" != always ]]; then
    pg_admin -c "alter system set archive_mode = on" >/dev/null ||
      die pgbackrest "ALTER SYSTEM SET archive_mode = on failed" "$(pg_logfile)"
    pg_restart "setting archive_mode = on"
    how+=("archive_mode on (restarted)")
  elif [[ "$cur_cmd" != "$want_cmd" ]]; then
    pg_admin -tAc 'select pg_reload_conf()' >/dev/null ||
      die pgbackrest "pg_reload_conf() failed" "$(pg_logfile)"
    how+=("archive_command set (reloaded)")
  fi
  # The reload is asynchronous: wait until new sessions see the command.
  for ((i = 0; i < 50; i++)); do
    cur_cmd="$(pg_admin -tAc 'show archive_command')" && [[ "$cur_cmd" == "$want_cmd" ]] && break
    sleep 0.1
  done
  [[ "$cur_cmd" == "$want_cmd" ]] ||
    die pgbackrest "archive_command is still '$cur_cmd' after reload (want '$want_cmd')" "$(pg_logfile)"

  # 3. check: switches WAL and waits until archive-push stored it in the repo.
  pgbr_run check "pgbackrest check (archive-push of a WAL segment into $PGBR_REPO) failed; if the cluster was re-created, remove $PGBR_REPO and run up again"
  how+=("archiving ok (check)")

  report pgbackrest "$(printf '%s, ' "${how[@]}")config $PGBR_CONF, repo $PGBR_REPO"
}

# --------------------------------------------------------------------------
# 4. sshd on 127.0.0.1:2222
# --------------------------------------------------------------------------

ssh_cli() {
  ssh -F /dev/null -n \
    -i "$SSH_DIR/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o UserKnownHostsFile="$SSH_DIR/known_hosts" -o StrictHostKeyChecking=yes \
    -o ConnectTimeout=5 -p "$SSH_PORT" "$SSH_USER@$SSH_HOST" "$@"
}

ssh_write_config() {
  mkdir -p "$SSH_DIR"
  chmod 700 "$SSH_DIR"
  [[ -f "$SSH_DIR/ssh_host_ed25519_key" ]] ||
    ssh-keygen -q -t ed25519 -N '' -C "launchdeck-test-host" -f "$SSH_DIR/ssh_host_ed25519_key" </dev/null
  [[ -f "$SSH_DIR/id_ed25519" ]] ||
    ssh-keygen -q -t ed25519 -N '' -C "launchdeck-test-client" -f "$SSH_DIR/id_ed25519" </dev/null

  local tmp
  tmp="$(mktemp "$SSH_DIR/.tmp.XXXXXX")"
  cp "$SSH_DIR/id_ed25519.pub" "$tmp"
  install_if_changed "$tmp" "$SSH_DIR/authorized_keys"

  tmp="$(mktemp "$SSH_DIR/.tmp.XXXXXX")"
  printf '[%s]:%s %s\n' "$SSH_HOST" "$SSH_PORT" "$(cut -d' ' -f1,2 "$SSH_DIR/ssh_host_ed25519_key.pub")" >"$tmp"
  install_if_changed "$tmp" "$SSH_DIR/known_hosts"

  # With UsePAM no, sshd refuses any account whose password field starts with
  # "!" (locked), even for key auth.  Debian's root is usually "*" (fine);
  # if root is locked on this machine, let PAM do account checks instead.
  local use_pam=no
  if [[ "$(getent shadow "$SSH_USER" | cut -d: -f2)" == '!'* ]]; then use_pam=yes; fi

  tmp="$(mktemp "$SSH_DIR/.tmp.XXXXXX")"
  cat >"$tmp" <<EOF
# Generated by scripts/services.sh -- test-only sshd, do not edit.
Port $SSH_PORT
ListenAddress $SSH_HOST
HostKey "$SSH_DIR/ssh_host_ed25519_key"
PidFile "$SSH_DIR/sshd.pid"
AuthorizedKeysFile "$SSH_DIR/authorized_keys"
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM $use_pam
# Keys live in the repo checkout, whose parent dirs we do not control.
StrictModes no
# Tests forward /var/run/docker.sock and TCP ports over this server.
AllowTcpForwarding yes
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
X11Forwarding no
PrintMotd no
# Tests open many connections in parallel; the default 10:30:100 would drop some.
MaxStartups 100
MaxSessions 50
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF
  install_if_changed "$tmp" "$SSH_DIR/sshd_config"
}

sshd_up() {
  local pidfile="$SSH_DIR/sshd.pid" logfile="$STATE_DIR/sshd.log" how i
  ssh_write_config
  # Privilege-separation dir; normally created by systemd's RuntimeDirectory.
  mkdir -p /run/sshd && chmod 0755 /run/sshd

  if pid_alive "$pidfile" sshd; then
    # Pick up a config that changed since it started (SIGHUP re-execs sshd).
    if [[ "$SSH_DIR/sshd_config" -nt "$pidfile" ]]; then
      kill -HUP "$(cat "$pidfile")"
      sleep 0.3
      touch "$pidfile"
    fi
    how="already running (pid $(cat "$pidfile"))"
  else
    rm -f "$pidfile"
    /usr/sbin/sshd -t -f "$SSH_DIR/sshd_config" >"$logfile" 2>&1 ||
      die sshd "sshd -t rejected $SSH_DIR/sshd_config" "$logfile"
    # sshd daemonizes itself and writes PidFile once it is listening; -E
    # sends its log to a file instead of syslog (no syslog daemon here).
    /usr/sbin/sshd -f "$SSH_DIR/sshd_config" -E "$logfile" </dev/null 9>&- ||
      die sshd "sshd exited with status $?" "$logfile"
    for ((i = 0; i < 50; i++)); do
      pid_alive "$pidfile" sshd && break
      sleep 0.1
    done
    pid_alive "$pidfile" sshd || die sshd "sshd did not write $pidfile (port $SSH_PORT in use?)" "$logfile"
    how="started (pid $(cat "$pidfile"))"
  fi

  local out
  out="$(ssh_cli echo ok 2>&1)" || die sshd "ssh $SSH_USER@$SSH_HOST:$SSH_PORT echo ok failed: $out" "$logfile"
  [[ "$out" == ok ]] || die sshd "ssh echo printed '$out' instead of 'ok'" "$logfile"
  report sshd "$how, $SSH_USER@$SSH_HOST:$SSH_PORT key login ok"
}

# --------------------------------------------------------------------------
# 5. Prometheus (binary only)
# --------------------------------------------------------------------------

prometheus_check() {
  PROMETHEUS_BIN="$(command -v prometheus)" || die prometheus "prometheus binary not found"
  PROMETHEUS_VERSION="$("$PROMETHEUS_BIN" --version 2>&1 | head -n1 | awk '{print $3}')" ||
    die prometheus "prometheus --version failed"
  report prometheus "binary $PROMETHEUS_BIN version $PROMETHEUS_VERSION (not started; tests start their own)"
}

# --------------------------------------------------------------------------
# 6. env.sh + services.json
# --------------------------------------------------------------------------

write_state_files() {
  local tmp
  tmp="$(mktemp "$STATE_DIR/.tmp.XXXXXX")"
  cat >"$tmp" <<EOF
# Generated by scripts/services.sh up -- source me.
export LAUNCHDECK_SERVICES_DIR='$STATE_DIR'
export DOCKER_HOST='$DOCKER_HOST_URL'
export LAUNCHDECK_TEST_IMAGE='$BUSYBOX_IMAGE'
export PGHOST='$PG_HOST'
export PGPORT='$PG_PORT'
export PGUSER='$PG_USER'
export PGPASSWORD='$PG_PASSWORD'
export LAUNCHDECK_PG_VERSION='$PG_VERSION'
export LAUNCHDECK_PG_CLUSTER='$PG_VERSION/$PG_CLUSTER'
export LAUNCHDECK_PG_DATA='$PG_DATA'
export LAUNCHDECK_PG_BINDIR='$PG_BINDIR'
export LAUNCHDECK_SSH_HOST='$SSH_HOST'
export LAUNCHDECK_SSH_PORT='$SSH_PORT'
export LAUNCHDECK_SSH_USER='$SSH_USER'
export LAUNCHDECK_SSH_KEY='$SSH_DIR/id_ed25519'
export LAUNCHDECK_SSH_KNOWN_HOSTS='$SSH_DIR/known_hosts'
export LAUNCHDECK_PROMETHEUS_BIN='$PROMETHEUS_BIN'
export LAUNCHDECK_PGBACKREST_BIN='$PGBACKREST_BIN'
export LAUNCHDECK_PGBACKREST_CONFIG='$PGBR_CONF'
export LAUNCHDECK_PGBACKREST_STANZA='$PGBR_STANZA'
EOF
  chmod 644 "$tmp"
  install_if_changed "$tmp" "$STATE_DIR/env.sh"

  tmp="$(mktemp "$STATE_DIR/.tmp.XXXXXX")"
  cat >"$tmp" <<EOF
{
  "state_dir": $(json_str "$STATE_DIR"),
  "docker": {
    "host": $(json_str "$DOCKER_HOST_URL"),
    "socket": $(json_str "$DOCKER_SOCK"),
    "image": $(json_str "$BUSYBOX_IMAGE"),
    "server_version": $(json_str "$DOCKER_SERVER_VERSION")
  },
  "postgres": {
    "host": $(json_str "$PG_HOST"),
    "port": $PG_PORT,
    "user": $(json_str "$PG_USER"),
    "password": $(json_str "$PG_PASSWORD"),
    "dbname": "postgres",
    "version": $(json_str "$PG_VERSION"),
    "cluster": $(json_str "$PG_CLUSTER"),
    "data_dir": $(json_str "$PG_DATA"),
    "bin_dir": $(json_str "$PG_BINDIR")
  },
  "ssh": {
    "host": $(json_str "$SSH_HOST"),
    "port": $SSH_PORT,
    "username": $(json_str "$SSH_USER"),
    "client_key": $(json_str "$SSH_DIR/id_ed25519"),
    "client_key_pub": $(json_str "$SSH_DIR/id_ed25519.pub"),
    "known_hosts": $(json_str "$SSH_DIR/known_hosts"),
    "host_key_pub": $(json_str "$SSH_DIR/ssh_host_ed25519_key.pub")
  },
  "prometheus": {
    "binary": $(json_str "$PROMETHEUS_BIN"),
    "version": $(json_str "$PROMETHEUS_VERSION")
  },
  "pgbackrest": {
    "binary": $(json_str "$PGBACKREST_BIN"),
    "config": $(json_str "$PGBR_CONF"),
    "stanza": $(json_str "$PGBR_STANZA"),
    "repo": $(json_str "$PGBR_REPO")
  }
}
EOF
  chmod 644 "$tmp"
  install_if_changed "$tmp" "$STATE_DIR/services.json"
}

# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------

cmd_up() {
  require_root
  mkdir -p "$STATE_DIR"
  ensure_packages
  docker_up
  busybox_image_up
  postgres_up
  pgbackrest_up
  sshd_up
  prometheus_check
  chromium_up
  write_state_files
  report state "$STATE_DIR/services.json, $STATE_DIR/env.sh"
}

cmd_down() {
  require_root
  mkdir -p "$STATE_DIR"
  stop_pidfile sshd "$SSH_DIR/sshd.pid" sshd 10

  local marker="$STATE_DIR/postgres.started"
  if [[ -f "$marker" ]] && command -v pg_lsclusters >/dev/null; then
    pg_pick_cluster
    local started_pid now_pid=""
    started_pid="$(cat "$marker")"
    [[ -r "$PG_DATA/postmaster.pid" ]] && now_pid="$(head -n1 "$PG_DATA/postmaster.pid")"
    if [[ "$(pg_status)" == online* && "$now_pid" == "$started_pid" ]]; then
      pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" stop -m fast </dev/null
      report postgres "stopped $PG_VERSION/$PG_CLUSTER (pid $started_pid)"
    else
      report postgres "not stopped (postmaster is not the one services.sh started)"
    fi
    rm -f "$marker"
  else
    report postgres "not stopped (not started by services.sh)"
  fi

  # dockerd stops running containers itself on SIGTERM (up to 10s each, in
  # parallel), then its managed containerd.
  stop_pidfile docker "$STATE_DIR/dockerd.pid" dockerd 40
}

cmd_status() {
  local ok=0 line
  mkdir -p "$STATE_DIR"
  if docker_cli info >/dev/null 2>&1; then
    if pid_alive "$STATE_DIR/dockerd.pid" dockerd; then line="running (pid $(cat "$STATE_DIR/dockerd.pid"), started by services.sh)"; else line="running (external)"; fi
    report docker "$line"
    if docker_cli image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1; then report image "$BUSYBOX_IMAGE present"; else report image "$BUSYBOX_IMAGE MISSING"; ok=1; fi
  else
    report docker "DOWN"; ok=1
  fi

  if command -v pg_lsclusters >/dev/null && [[ -n "$(pg_lsclusters -h)" ]]; then
    pg_pick_cluster
    line="$PG_VERSION/$PG_CLUSTER $(pg_status) on $PG_HOST:$PG_PORT"
    [[ -f "$STATE_DIR/postgres.started" ]] && line="$line (started by services.sh)"
    if pg_isready -q -h "$PG_HOST" -p "$PG_PORT" </dev/null 2>/dev/null; then report postgres "$line"; else report postgres "DOWN ($line)"; ok=1; fi
  else
    report postgres "DOWN (no cluster)"; ok=1
  fi

  if [[ -r "$PGBR_CONF" ]] && command -v psql >/dev/null && [[ -n "$PG_PORT" ]]; then
    line="$(pg_admin -tAc 'show archive_mode' 2>/dev/null || echo '?')"
    if [[ "$line" == on || "$line" == always ]]; then
      report pgbackrest "stanza $PGBR_STANZA, archive_mode $line, config $PGBR_CONF"
    else
      report pgbackrest "NOT ARCHIVING (archive_mode '$line'; run up)"; ok=1
    fi
  else
    report pgbackrest "NOT CONFIGURED ($PGBR_CONF missing; run up)"; ok=1
  fi

  if pid_alive "$SSH_DIR/sshd.pid" sshd; then
    report sshd "running (pid $(cat "$SSH_DIR/sshd.pid")) on $SSH_HOST:$SSH_PORT"
  else
    report sshd "DOWN"; ok=1
  fi

  if command -v prometheus >/dev/null; then
    report prometheus "binary $(command -v prometheus) ($(prometheus --version 2>&1 | head -n1 | awk '{print $3}'))"
  else
    report prometheus "MISSING binary"; ok=1
  fi
  if [[ -f "$STATE_DIR/services.json" ]]; then report state "$STATE_DIR/services.json"; else report state "services.json missing"; fi
  return "$ok"
}

main() {
  local cmd="${1:-}"
  case "$cmd" in
    up | down | status) ;;
    *)
      echo "usage: $0 up|down|status" >&2
      exit 2
      ;;
  esac
  mkdir -p "$STATE_DIR"
  # Serialize concurrent invocations (e.g. two CI steps).  Every daemon we
  # launch gets `9>&-`, otherwise it would inherit fd 9 and hold the lock
  # for its whole life.
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || { echo "services.sh: another services.sh holds $STATE_DIR/.lock" >&2; exit 1; }
  "cmd_$cmd"
}

main "$@"

# Helpers shared by deploy/ha/cluster, deploy/ha/backup and deploy/ha/test
# (sourced, not run). They expect log() and die() from the caller.

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_pg: the prefix that runs a command as the postgres system user when
# we are root (PostgreSQL refuses root), else nothing. env and setpriv exec
# in place, so a background job's $! is the command's own PID.
as_pg() {
  if is_root; then
    echo env HOME="$(getent passwd postgres | cut -d: -f6)" setpriv --reuid=postgres --regid=postgres --clear-groups --
  fi
}

# start_bg PIDFILE LOGFILE CMD...: start CMD as the server's user in a
# session of its own (a Ctrl-C in the calling terminal does not reach it)
# and record its PID. A background job of a script is no process group
# leader, so setsid execs in place too: $! is CMD's PID.
start_bg() {
  local pidfile=$1 logfile=$2
  shift 2
  # shellcheck disable=SC2046
  setsid $(as_pg) "$@" >>"$logfile" 2>&1 </dev/null &
  echo $! >"$pidfile"
}

# alive PID PATTERN: PID runs and its command line contains PATTERN, so a
# PID since reused by an unrelated process is never signalled.
alive() {
  local pid=$1 pattern=$2
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern"
}

# pid_of FILE: the PID on the first line of FILE (a pid file or
# PostgreSQL's postmaster.pid), or nothing.
pid_of() { if [ -f "$1" ]; then head -n1 "$1" | tr -dc '0-9'; fi; }

# stop_pid PID PATTERN WHAT TIMEOUT [SIGNAL]: send SIGNAL (default TERM) if
# PID is still PATTERN, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
  local pid=$1 pattern=$2 what=$3 timeout=$4 sig=${5:-TERM}
  alive "$pid" "$pattern" || return 0
  log "stopping $what (pid $pid, SIG$sig)"
  kill -"$sig" "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" "$pattern" || return 0
    sleep 0.1
  done
  log "$what did not stop within ${timeout}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# free_port: a loopback TCP port nobody listens on right now.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

secret() { od -An -tx1 -N18 /dev/urandom | tr -d ' \n'; }

# wait_for SECONDS WHAT CMD...: retry CMD until it succeeds, or fail.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      log "timed out after ${seconds}s waiting for $what"
      return 1
    fi
    sleep 0.3
  done
}

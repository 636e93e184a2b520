#!/usr/bin/env bash
# Throwaway OpenSSH servers on loopback for roofbench's tests and CI (the "loopback" test devices).
#
#   test/helpers/test-sshd.sh start  DIR [PORT]   start a server whose every file lives in DIR
#   test/helpers/test-sshd.sh stop   DIR          SIGTERM it and its sessions, wait until they are gone
#   test/helpers/test-sshd.sh kill   DIR [--listener-only]
#                                            SIGKILL it (and, unless --listener-only, its sessions)
#   test/helpers/test-sshd.sh status DIR          exit 0 and print DIR/info.json if it is running
#
# See docs/testing.md. Nothing outside DIR is written except /run/sshd (sshd's privilege separation
# directory, created when running as root) and, if sshd is missing, the openssh-server package.
# The system's /etc/ssh configuration and the user's ~/.ssh are never read or touched by the server.
#
# Environment: SSHD (sshd binary, default /usr/sbin/sshd), TEST_SSHD_NODE (node binary reported in
# info.json and put first on the session PATH, default `command -v node`), TEST_SSHD_USE_PAM
# (yes|no, default no; see docs/testing.md), TEST_SSHD_NO_INSTALL=1 (fail instead of installing).
set -euo pipefail

readonly MARKER=.roofbench-test-sshd
readonly START_TIMEOUT=10 # seconds for sshd to accept connections
readonly STOP_TIMEOUT=10  # seconds for sshd to exit after SIGTERM before SIGKILL
SSHD=${SSHD:-/usr/sbin/sshd}

log() { printf 'test-sshd: %s\n' "$*" >&2; }
die() {
  printf 'test-sshd: error: %s\n' "$*" >&2
  exit 1
}

usage() {
  cat >&2 <<'EOF'
usage: test/helpers/test-sshd.sh start  DIR [PORT]
       test/helpers/test-sshd.sh stop   DIR
       test/helpers/test-sshd.sh kill   DIR [--listener-only]
       test/helpers/test-sshd.sh status DIR
EOF
  exit 2
}

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    return 1
  fi
}

# Resolve DIR to an absolute physical path; refuse "" and "/" and paths sshd_config cannot hold verbatim.
resolve_dir() {
  local raw=$1 create=$2 abs
  [[ -n $raw ]] || die "DIR must not be empty"
  [[ $raw =~ ^[A-Za-z0-9._/@+,:=~-]+$ ]] ||
    die "DIR '$raw' holds characters that sshd_config cannot take verbatim (use letters, digits and ._/@+,:=~-)"
  if [[ $create == yes ]]; then
    mkdir -p -- "$raw" || die "cannot create $raw"
  fi
  [[ -d $raw ]] || return 1
  abs=$(cd -- "$raw" && pwd -P) || die "cannot enter $raw"
  [[ $abs != / ]] || die "refusing to use / as DIR"
  [[ $abs =~ ^/[A-Za-z0-9._/@+,:=~-]+$ ]] ||
    die "DIR '$abs' holds characters that sshd_config cannot take verbatim (use letters, digits and ._/@+,:=~-)"
  printf '%s' "$abs"
}

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# A process is alive if it exists and is not a zombie (nobody may reap a daemon's corpse in a container).
alive() {
  local pid=$1 stat
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r /proc/$pid/stat ]]; then
    { stat=$(<"/proc/$pid/stat"); } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
  fi
}

cmdline_of() {
  local pid=$1
  if [[ -r /proc/$pid/cmdline ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true
  else
    ps -p "$pid" -o args= 2>/dev/null || true
  fi
}

# The pid of DIR's listening sshd, if it runs (checked against its command line, not just the pid file).
running_pid() {
  local dir=$1 pid
  [[ -f $dir/sshd.pid ]] || return 1
  pid=$(tr -dc '0-9' <"$dir/sshd.pid")
  [[ -n $pid ]] || return 1
  alive "$pid" || return 1
  [[ $(cmdline_of "$pid") == *"-f $dir/sshd_config"* ]] || return 1
  printf '%s' "$pid"
}

# All descendants of a pid (the per-connection sshd processes and the commands they run).
descendants() {
  local root=$1 f line rest pid ppid
  local -A children=()
  for f in /proc/[0-9]*/stat; do
    # `read <` rather than `$(<"$f")`: a process that exits between the glob and the read makes the
    # latter fatal under `set -e` in bash 5.2, despite the `||`, and the kill then spared every session.
    { read -r line <"$f"; } 2>/dev/null || continue
    pid=${line%% *}
    rest=${line##*) }
    read -r _ ppid _ <<<"$rest"
    children[$ppid]+=" $pid"
  done
  local queue=("$root") out=() p c
  while ((${#queue[@]})); do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    for c in ${children[$p]-}; do
      out+=("$c")
      queue+=("$c")
    done
  done
  printf '%s\n' "${out[@]}"
}

# shellcheck disable=SC2016 # the single-quoted scripts expand $1 in the child bash
port_open() { # something accepts TCP connections on 127.0.0.1:$1
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# shellcheck disable=SC2016
ssh_banner() { # prints the SSH identification string served on 127.0.0.1:$1
  timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 4 line <&3 && printf "%s" "${line%$'\''\r'\''}"' _ "$1" 2>/dev/null
}

ensure_sshd() {
  if [[ -x $SSHD ]] && command -v ssh-keygen >/dev/null 2>&1; then
    return 0
  fi
  [[ ${TEST_SSHD_NO_INSTALL:-} != 1 ]] || die "$SSHD or ssh-keygen is missing and TEST_SSHD_NO_INSTALL=1"
  command -v apt-get >/dev/null 2>&1 ||
    die "$SSHD is missing and apt-get is not available: install the OpenSSH server (openssh-server) by hand"
  log "$SSHD is missing: installing openssh-server with apt-get"
  local lock=${TMPDIR:-/tmp}/roofbench-test-sshd-install.lock
  (
    if command -v flock >/dev/null 2>&1; then
      exec 9>"$lock"
      flock -w 600 9 || true
    fi
    # another start may have installed it while we waited for the lock
    if [[ -x $SSHD ]] && command -v ssh-keygen >/dev/null 2>&1; then exit 0; fi
    export DEBIAN_FRONTEND=noninteractive
    # A partly failed update (one mirror index out of sync, say) still leaves usable lists: go on.
    as_root apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 ||
      echo "test-sshd: apt-get update reported errors; trying the install anyway" >&2
    as_root apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
      openssh-server openssh-client >&2
  ) || die "could not install openssh-server (needs root or passwordless sudo, and Debian's apt repositories)"
  [[ -x $SSHD ]] || die "openssh-server was installed but $SSHD is still missing (set SSHD=/path/to/sshd)"
  command -v ssh-keygen >/dev/null 2>&1 || die "ssh-keygen is missing (install openssh-client)"
}

# ---------------------------------------------------------------------------
# start
# ---------------------------------------------------------------------------

write_sshd_config() {
  local dir=$1 port=$2 user=$3 use_pam=$4 path=$5
  local tmp=$dir/sshd_config.tmp
  {
    echo "# Written by test/helpers/test-sshd.sh: a throwaway loopback test server. Do not reuse."
    echo "Port $port"
    echo "ListenAddress 127.0.0.1"
    echo "AddressFamily inet"
    echo "HostKey $dir/ssh_host_ed25519_key"
    echo "PidFile $dir/sshd.pid"
    echo "AuthorizedKeysFile $dir/authorized_keys"
    echo "AllowUsers $user"
    echo "PermitRootLogin prohibit-password"
    echo "PubkeyAuthentication yes"
    echo "AuthenticationMethods publickey"
    echo "PasswordAuthentication no"
    echo "KbdInteractiveAuthentication no"
    echo "HostbasedAuthentication no"
    echo "UsePAM $use_pam"
    # DIR usually sits under a world-writable /tmp, which StrictModes would reject.
    echo "StrictModes no"
    echo "PermitUserEnvironment no"
    echo "UseDNS no"
    echo "PrintMotd no"
    echo "PrintLastLog no"
    echo "X11Forwarding no"
    echo "AllowAgentForwarding no"
    echo "AllowTcpForwarding yes"
    echo "MaxStartups 64:30:128"
    echo "MaxSessions 64"
    echo "LoginGraceTime 30"
    echo "ClientAliveInterval 15"
    echo "ClientAliveCountMax 4"
    # Server-side SetEnv (OpenSSH >= 8.7) overrides sshd's compiled-in default PATH for every session,
    # so a plain `node` resolves in non-interactive sessions too. Shell rc files may still prepend.
    echo "SetEnv \"PATH=$path\""
    echo "Subsystem sftp internal-sftp"
    echo "LogLevel VERBOSE"
  } >"$tmp"
  mv -f -- "$tmp" "$dir/sshd_config"
}

# Start sshd on one port and wait until it serves SSH. Returns 0 when ready, 3 when the port is taken,
# dies otherwise. sshd runs in the foreground (-D) of its own session (setsid), so that its pid is known
# at once and a failed bind shows up as its exit rather than as a silent daemon that never listens.
start_on_port() {
  local dir=$1 port=$2 out size pid deadline banner rc
  write_sshd_config "$dir" "$port" "$USER_NAME" "$USE_PAM" "$SESSION_PATH"
  out=$("$SSHD" -t -f "$dir/sshd_config" 2>&1) || die "sshd rejected $dir/sshd_config:"$'\n'"$out"
  printf '=== %s test-sshd.sh start on 127.0.0.1:%s\n' "$(date -u +%FT%TZ)" "$port" >>"$dir/sshd.log"
  size=$(wc -c <"$dir/sshd.log")
  # shellcheck disable=SC2094 # sshd appends to its log; nothing reads it here
  setsid "$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >>"$dir/sshd.log" 2>&1 8>&- &
  pid=$!
  deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! alive "$pid"; then
      rc=0
      wait "$pid" 2>/dev/null || rc=$?
      if tail -c "+$((size + 1))" "$dir/sshd.log" | grep -q 'Address already in use'; then
        return 3
      fi
      log "sshd exited with status $rc. $dir/sshd.log:"
      tail -n 40 "$dir/sshd.log" >&2 || true
      die "sshd failed to start on 127.0.0.1:$port"
    fi
    if running_pid "$dir" >/dev/null && banner=$(ssh_banner "$port") && [[ $banner == SSH-2.0-* ]]; then
      log "sshd pid $pid listening on 127.0.0.1:$port ($banner)"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      kill -KILL "$pid" 2>/dev/null || true
      log "sshd did not accept SSH connections on 127.0.0.1:$port within ${START_TIMEOUT}s. $dir/sshd.log:"
      tail -n 40 "$dir/sshd.log" >&2 || true
      die "sshd did not become ready"
    fi
    sleep 0.1
  done
}

cmd_start() {
  [[ $# -ge 1 && $# -le 2 ]] || usage
  local raw=$1 want_port=${2:-}
  if [[ -n $want_port ]]; then
    if ! [[ $want_port =~ ^[0-9]{1,5}$ ]] || ((10#$want_port < 1 || 10#$want_port > 65535)); then
      die "bad PORT: $want_port"
    fi
    want_port=$((10#$want_port))
  fi

  local dir
  if [[ -d $raw ]]; then
    dir=$(resolve_dir "$raw" no)
    # Refuse to scribble into an existing, non-empty directory that is not ours.
    if [[ ! -e $dir/$MARKER && -n $(ls -A -- "$dir") ]]; then
      die "$dir exists, is not empty and was not made by test-sshd.sh: refusing to write into it"
    fi
  else
    dir=$(resolve_dir "$raw" yes)
  fi
  chmod 700 -- "$dir"
  : >"$dir/$MARKER"

  # One start/stop at a time per DIR.
  if command -v flock >/dev/null 2>&1; then
    exec 8>"$dir/.lock"
    flock -w 60 8 || die "another test-sshd.sh holds $dir/.lock"
  fi

  local pid
  if pid=$(running_pid "$dir"); then
    local cur
    cur=$(sed -n 's/^Port //p' "$dir/sshd_config")
    if [[ -n $want_port && $want_port != "$cur" ]]; then
      die "already running in $dir on port $cur (pid $pid); stop it first"
    fi
    log "already running in $dir on port $cur (pid $pid)"
    cat "$dir/info.json"
    return 0
  fi
  rm -f -- "$dir/sshd.pid"

  ensure_sshd

  USER_NAME=$(id -un)
  USE_PAM=${TEST_SSHD_USE_PAM:-}
  if [[ -z $USE_PAM ]]; then
    USE_PAM=no
    # Without PAM, sshd refuses accounts whose password field is locked ("!..."): fall back to PAM.
    local shadow
    if shadow=$(getent shadow "$USER_NAME" 2>/dev/null) && [[ $(cut -d: -f2 <<<"$shadow") == '!'* ]]; then
      log "account $USER_NAME is password-locked: using UsePAM yes"
      USE_PAM=yes
    fi
  fi

  local node=${TEST_SSHD_NODE:-$(command -v node || true)}
  if [[ -n $node && $node != /* ]]; then node=$(cd -- "$(dirname -- "$node")" && pwd -P)/$(basename -- "$node"); fi
  if [[ -n $node && ! -x $node ]]; then log "warning: node '$node' is not executable"; fi
  [[ -n $node ]] || log "warning: node not found on PATH; info.json gets \"node\": null"
  SESSION_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  local node_dir
  if [[ -n $node ]]; then
    node_dir=$(dirname -- "$node")
    if [[ $node_dir != *[\"\\:$'\n']* && :$SESSION_PATH: != *":$node_dir:"* ]]; then
      SESSION_PATH=$node_dir:$SESSION_PATH
    fi
  fi

  # Keys: created once per DIR, kept across stop/start so that known_hosts stays valid.
  if [[ ! -f $dir/ssh_host_ed25519_key || ! -f $dir/ssh_host_ed25519_key.pub ]]; then
    rm -f -- "$dir/ssh_host_ed25519_key" "$dir/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C roofbench-test-sshd-host -f "$dir/ssh_host_ed25519_key" </dev/null
  fi
  if [[ ! -f $dir/id_ed25519 || ! -f $dir/id_ed25519.pub ]]; then
    rm -f -- "$dir/id_ed25519" "$dir/id_ed25519.pub"
    ssh-keygen -q -t ed25519 -N '' -C "roofbench-test-sshd-user" -f "$dir/id_ed25519" </dev/null
  fi
  chmod 600 -- "$dir/ssh_host_ed25519_key" "$dir/id_ed25519"
  (umask 077 && cp -f -- "$dir/id_ed25519.pub" "$dir/authorized_keys")

  if [[ $(id -u) -eq 0 ]]; then
    mkdir -p /run/sshd && chmod 0755 /run/sshd
  fi

  # Port: the one asked for; else the one this DIR had last time if free; else a random free one
  # below the kernel's ephemeral range. sshd's own bind decides: a taken port is simply retried.
  local candidates=() port rc tries
  if [[ -n $want_port ]]; then
    candidates=("$want_port")
  else
    if [[ -f $dir/port ]]; then
      port=$(tr -dc '0-9' <"$dir/port")
      [[ -z $port ]] || candidates+=("$port")
    fi
    for ((tries = 0; tries < 30; tries++)); do
      candidates+=($((20000 + (RANDOM * 32768 + RANDOM) % 12000)))
    done
  fi
  local started=
  for port in "${candidates[@]}"; do
    if [[ -z $want_port ]] && port_open "$port"; then continue; fi
    rc=0
    start_on_port "$dir" "$port" || rc=$?
    if ((rc == 0)); then
      started=$port
      break
    fi
    if [[ -n $want_port ]]; then
      tail -n 5 "$dir/sshd.log" >&2 || true
      die "port $want_port on 127.0.0.1 is taken"
    fi
  done
  [[ -n $started ]] || die "found no free port for sshd (see $dir/sshd.log)"
  port=$started
  printf '%s\n' "$port" >"$dir/port"

  # Descriptions for clients.
  local fp hostpub hostline host_pattern ktype kdata
  fp=$(ssh-keygen -l -E sha256 -f "$dir/ssh_host_ed25519_key.pub" | awk '{print $2}')
  read -r ktype kdata _ <"$dir/ssh_host_ed25519_key.pub"
  hostpub="$ktype $kdata"
  if [[ $port == 22 ]]; then host_pattern=127.0.0.1; else host_pattern="[127.0.0.1]:$port"; fi
  hostline="$host_pattern $hostpub"
  printf '%s\n' "$hostline" >"$dir/known_hosts"

  cat >"$dir/ssh_config" <<EOF
# Written by test/helpers/test-sshd.sh. Use: ssh -F $dir/ssh_config loopback 'command'
Host *
  HostName 127.0.0.1
  Port $port
  User $USER_NAME
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile $dir/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  CheckHostIP no
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
EOF

  local node_version=
  if [[ -n $node && -x $node ]]; then node_version=$("$node" --version 2>/dev/null || true); fi
  pid=$(running_pid "$dir")
  {
    printf '{\n'
    printf '  "dir": %s,\n' "$(json_str "$dir")"
    printf '  "host": "127.0.0.1",\n'
    printf '  "port": %s,\n' "$port"
    printf '  "user": %s,\n' "$(json_str "$USER_NAME")"
    printf '  "identityFile": %s,\n' "$(json_str "$dir/id_ed25519")"
    printf '  "hostKeyFingerprint": %s,\n' "$(json_str "$fp")"
    printf '  "hostPublicKey": %s,\n' "$(json_str "$hostpub")"
    printf '  "knownHostsLine": %s,\n' "$(json_str "$hostline")"
    printf '  "knownHostsFile": %s,\n' "$(json_str "$dir/known_hosts")"
    printf '  "sshConfigFile": %s,\n' "$(json_str "$dir/ssh_config")"
    printf '  "pidFile": %s,\n' "$(json_str "$dir/sshd.pid")"
    printf '  "pid": %s,\n' "$pid"
    printf '  "logFile": %s,\n' "$(json_str "$dir/sshd.log")"
    printf '  "sessionPath": %s,\n' "$(json_str "$SESSION_PATH")"
    if [[ -n $node ]]; then printf '  "node": %s,\n' "$(json_str "$node")"; else printf '  "node": null,\n'; fi
    if [[ -n $node_version ]]; then printf '  "nodeVersion": %s\n' "$(json_str "$node_version")"; else printf '  "nodeVersion": null\n'; fi
    printf '}\n'
  } >"$dir/info.json.tmp"
  mv -f -- "$dir/info.json.tmp" "$dir/info.json"

  {
    printf 'SSHD_DIR=%q\n' "$dir"
    printf 'SSHD_HOST=127.0.0.1\n'
    printf 'SSHD_PORT=%q\n' "$port"
    printf 'SSHD_USER=%q\n' "$USER_NAME"
    printf 'SSHD_IDENTITY=%q\n' "$dir/id_ed25519"
    printf 'SSHD_KNOWN_HOSTS=%q\n' "$dir/known_hosts"
    printf 'SSHD_CONFIG=%q\n' "$dir/ssh_config"
    printf 'SSHD_NODE=%q\n' "$node"
  } >"$dir/env"

  cat "$dir/info.json"
}

# ---------------------------------------------------------------------------
# stop / kill / status
# ---------------------------------------------------------------------------

wait_gone() { # wait_gone SECONDS PID... ; returns 1 if any is still alive
  local limit=$1 deadline p left
  shift
  deadline=$((SECONDS + limit))
  while :; do
    left=0
    for p in "$@"; do
      if alive "$p"; then left=1; fi
    done
    ((left)) || return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

existing_dir() { # like resolve_dir, without creating; prints nothing if DIR does not exist
  local raw=$1
  [[ -n $raw ]] || die "DIR must not be empty"
  [[ -d $raw ]] || return 0
  resolve_dir "$raw" no
}

signal_server() { # signal_server DIR SIGNAL ALL_SESSIONS(yes|no)
  local dir=$1 sig=$2 sessions=$3 pid kids=() p
  if ! pid=$(running_pid "$dir"); then
    rm -f -- "$dir/sshd.pid"
    log "not running in $dir"
    return 0
  fi
  if [[ $sessions == yes ]]; then
    mapfile -t kids < <(descendants "$pid")
  fi
  kill "-$sig" "$pid" 2>/dev/null || true
  for p in "${kids[@]}"; do kill "-$sig" "$p" 2>/dev/null || true; done
  local timeout=$STOP_TIMEOUT
  [[ $sig != KILL ]] || timeout=5
  if ! wait_gone "$timeout" "$pid" "${kids[@]}"; then
    log "still alive after SIG$sig: sending SIGKILL"
    kill -KILL "$pid" "${kids[@]}" 2>/dev/null || true
    wait_gone 5 "$pid" "${kids[@]}" || die "sshd pid $pid did not exit"
  fi
  rm -f -- "$dir/sshd.pid"
  log "stopped sshd pid $pid in $dir (SIG$sig${kids[*]:+, ${#kids[@]} session processes})"
}

cmd_stop() {
  [[ $# -eq 1 ]] || usage
  local dir
  dir=$(existing_dir "$1")
  if [[ -z $dir ]]; then
    log "no such directory $1: nothing to stop"
    return 0
  fi
  if command -v flock >/dev/null 2>&1 && [[ -e $dir/$MARKER ]]; then
    exec 8>"$dir/.lock"
    flock -w 60 8 || die "another test-sshd.sh holds $dir/.lock"
  fi
  signal_server "$dir" TERM yes
}

cmd_kill() {
  [[ $# -ge 1 && $# -le 2 ]] || usage
  local sessions=yes
  if [[ $# -eq 2 ]]; then
    [[ $2 == --listener-only ]] || usage
    sessions=no
  fi
  local dir
  dir=$(existing_dir "$1")
  if [[ -z $dir ]]; then
    log "no such directory $1: nothing to kill"
    return 0
  fi
  signal_server "$dir" KILL "$sessions"
}

cmd_status() {
  [[ $# -eq 1 ]] || usage
  local dir pid
  dir=$(existing_dir "$1")
  if [[ -n $dir ]] && pid=$(running_pid "$dir"); then
    log "running in $dir (pid $pid)"
    cat "$dir/info.json"
    return 0
  fi
  log "not running in $1"
  return 1
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
start) cmd_start "$@" ;;
stop) cmd_stop "$@" ;;
kill) cmd_kill "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage ;;
*) usage ;;
esac

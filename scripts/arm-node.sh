#!/usr/bin/env bash
# scripts/arm-node.sh ARCH DIR
#
# Builds an ARM Node.js 18 sysroot from Debian 12's own packages (nodejs:ARCH,
# libnode108:ARCH and the packages apt says they depend on) and writes a `node`
# wrapper into DIR that runs it under qemu-user, so that roofbench's payload can
# be run on an emulated Raspberry Pi-like CPU. See docs/emulated-boards.md.
#
#   ARCH   armhf (32-bit, Raspberry Pi 2/3 with a 32-bit OS) or arm64 (Pi 3/4/5 with a 64-bit OS);
#          amd64 builds the sysroot only (what `--ship-node` packs for x86-64 boards: no
#          emulation, no wrapper) and prints its path
#   DIR    where the wrappers go: DIR/node-ARCH always, and DIR/node as long as DIR
#          holds wrappers for one architecture only.
#
# Environment:
#   ROOFBENCH_ARM_CACHE    where sysroot-ARCH/ and debs-ARCH/ live (default: DIR)
#   ROOFBENCH_ARM_REFRESH  1: ask apt again and rebuild if the resolved versions changed
#   ROOFBENCH_ARM_VERIFY   1: run the full self-check (arch, WebAssembly SIMD) even when cached
#   ROOFBENCH_ARM_CPU      read by the wrapper at run time: qemu CPU model
#                          (default cortex-a7 for armhf, cortex-a53 for arm64)
#
# Host changes it may make (as root, only when needed): `dpkg --add-architecture ARCH`,
# `apt-get update`, `apt-get install qemu-user-static`. Nothing is installed into the
# host's dpkg database for ARCH: packages are fetched with `apt-get download` and
# unpacked with `dpkg-deb -x` into the sysroot.
set -euo pipefail

# Bump when the layout of the sysroot changes, so that old caches are rebuilt.
readonly FORMAT=1
readonly PROG="arm-node.sh"

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
note() {
  printf '%s: %s\n' "$PROG" "$*" >&2
}
usage() {
  cat >&2 <<'EOF'
usage: scripts/arm-node.sh ARCH DIR
  ARCH  armhf | arm64 | amd64 (amd64: the sysroot only, for shipping; prints its path)
  DIR   directory for the node wrapper(s): DIR/node-ARCH (and DIR/node)
env: ROOFBENCH_ARM_CACHE (sysroot/debs cache dir, default DIR),
     ROOFBENCH_ARM_REFRESH=1, ROOFBENCH_ARM_VERIFY=1, ROOFBENCH_ARM_CPU (wrapper, run time)
EOF
}

if [ "$#" -eq 1 ] && { [ "$1" = "-h" ] || [ "$1" = "--help" ]; }; then
  usage
  exit 0
fi
if [ "$#" -ne 2 ]; then
  usage
  die "expected 2 arguments (ARCH DIR), got $#"
fi

ARCH="$1"
case "$ARCH" in
  armhf)
    QEMU_NAME="qemu-arm-static"
    DEFAULT_CPU="cortex-a7"
    NODE_ARCH="arm"
    LOADER="usr/lib/ld-linux-armhf.so.3"
    ;;
  arm64)
    QEMU_NAME="qemu-aarch64-static"
    DEFAULT_CPU="cortex-a53"
    NODE_ARCH="arm64"
    LOADER="usr/lib/ld-linux-aarch64.so.1"
    ;;
  amd64)
    # Native on an x86-64 host: no qemu. Only the sysroot is built (harness/node-ship.ts packs it).
    QEMU_NAME=""
    DEFAULT_CPU=""
    NODE_ARCH="x64"
    LOADER="usr/lib64/ld-linux-x86-64.so.2"
    ;;
  *)
    usage
    die "unknown ARCH '$ARCH' (expected armhf, arm64 or amd64)"
    ;;
esac

[ -n "$2" ] || die "DIR must not be empty"
mkdir -p -- "$2" || die "cannot create DIR '$2'"
DIR="$(cd -- "$2" && pwd -P)"
CACHE_IN="${ROOFBENCH_ARM_CACHE:-$DIR}"
[ -n "$CACHE_IN" ] || die "ROOFBENCH_ARM_CACHE is set but empty"
mkdir -p -- "$CACHE_IN" || die "cannot create cache dir '$CACHE_IN'"
CACHE="$(cd -- "$CACHE_IN" && pwd -P)"

ROOT="$CACHE/sysroot-$ARCH"
DEBS="$CACHE/debs-$ARCH"
STAMP="$ROOT/.roofbench-sysroot"
NODE_BIN="$ROOT/usr/bin/node"

is_root() { [ "$(id -u)" -eq 0 ]; }

# One build per cache and architecture at a time (another test or helper may run us too).
LOCK="$CACHE/.arm-node-$ARCH.lock"
exec 9>"$LOCK" || die "cannot open lock file '$LOCK'"
if command -v flock >/dev/null 2>&1; then
  flock 9 || die "cannot lock '$LOCK'"
fi

TMPFILES=()
cleanup() {
  local f
  for f in "${TMPFILES[@]+"${TMPFILES[@]}"}"; do
    rm -rf -- "$f"
  done
}
trap cleanup EXIT

# ---------------------------------------------------------------- qemu ----

find_qemu() {
  local q
  q="$(command -v "$QEMU_NAME" 2>/dev/null || true)"
  if [ -z "$q" ] && [ -x "/usr/bin/$QEMU_NAME" ]; then q="/usr/bin/$QEMU_NAME"; fi
  printf '%s' "$q"
}

QEMU=""
[ -z "$QEMU_NAME" ] || QEMU="$(find_qemu)"
if [ -n "$QEMU_NAME" ] && [ -z "$QEMU" ]; then
  if ! is_root; then
    die "$QEMU_NAME not found: install it with 'apt-get install qemu-user-static' (as root), or run this script as root"
  fi
  note "installing qemu-user-static (for $QEMU_NAME)"
  log="$(mktemp)"; TMPFILES+=("$log")
  install_qemu() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=600 qemu-user-static >>"$log" 2>&1
  }
  if ! install_qemu; then
    # Typically a machine whose package lists were never fetched.
    note "apt-get install failed; running apt-get update and retrying"
    apt-get update -q -o DPkg::Lock::Timeout=600 >>"$log" 2>&1 || true
    if ! install_qemu; then
      note "apt output:"; cat "$log" >&2
      die "apt-get install qemu-user-static failed (output above)"
    fi
  fi
  QEMU="$(find_qemu)"
  [ -n "$QEMU" ] || die "qemu-user-static installed but $QEMU_NAME is still not found"
fi
case "$QEMU" in
  /* | "") ;;
  *) QEMU="$(cd -- "$(dirname -- "$QEMU")" && pwd -P)/$(basename -- "$QEMU")" ;;
esac

# ---------------------------------------------------------- sysroot -------

sysroot_complete() {
  [ -f "$STAMP" ] && [ -x "$NODE_BIN" ] && [ -e "$ROOT/$LOADER" ] \
    && [ "$(sed -n 's/^format=//p' "$STAMP")" = "$FORMAT" ] \
    && [ "$(sed -n 's/^arch=//p' "$STAMP")" = "$ARCH" ]
}

# apt with ARCH as its only architecture and an empty dpkg status: the solver then
# resolves the whole dependency closure of nodejs:ARCH (arch:all packages included),
# without looking at, locking or changing the host's dpkg state.
# (Created here, in the main shell: a file made inside $(...) would escape the cleanup trap.)
APT_STATUS="$(mktemp)"
TMPFILES+=("$APT_STATUS")
apt_arch() {
  apt-get -q \
    -o Debug::NoLocking=true \
    -o "Dir::State::status=$APT_STATUS" \
    -o "APT::Architecture=$ARCH" \
    -o "APT::Architectures::=$ARCH" \
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= \
    -o APT::Sandbox::User=root \
    "$@"
}

# Prints "name arch version" for every package the sysroot needs.
resolve_packages() {
  local out
  if ! out="$(apt_arch -s --no-install-recommends install nodejs 2>&1)"; then
    printf '%s\n' "$out" >&2
    return 1
  fi
  printf '%s\n' "$out" | awk '
    /^Inst / {
      v = ""; a = ""
      for (i = 3; i <= NF; i++) if ($i ~ /^\(/) { v = $i; break }
      sub(/^\(/, "", v)
      for (i++; i <= NF; i++) if ($i ~ /^\[[a-z0-9]+\]\)?$/) { a = $i; break }
      gsub(/[\[\]\)]/, "", a)
      print $2, a, v
    }' | LC_ALL=C sort
}

# (No `cmd | grep -q` / `| head` below: with pipefail the early exit would SIGPIPE the writer.)
candidate() {
  local policy
  policy="$(apt-cache policy "nodejs:$ARCH" 2>/dev/null || true)"
  sed -n 's/^ *Candidate: *//p' <<<"$policy" | sed -n 1p
}

arch_enabled() {
  local foreign
  [ "$(dpkg --print-architecture)" = "$ARCH" ] && return 0
  foreign="$(dpkg --print-foreign-architectures)"
  grep -qx -- "$ARCH" <<<"$foreign"
}

ensure_apt_lists() {
  local force="${1:-}" cand log
  if ! arch_enabled; then
    is_root || die "architecture $ARCH is not enabled in dpkg; as root run: dpkg --add-architecture $ARCH && apt-get update"
    note "dpkg --add-architecture $ARCH"
    dpkg --add-architecture "$ARCH" || die "dpkg --add-architecture $ARCH failed"
    force=1
  fi
  cand="$(candidate)"
  if [ -n "$force" ] || [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
    is_root || die "no apt package list for nodejs:$ARCH; as root run: apt-get update"
    note "apt-get update"
    log="$(mktemp)"; TMPFILES+=("$log")
    # A partial failure (one mirror index out of sync) is not fatal as long as
    # nodejs:ARCH has a candidate afterwards; the full output is shown otherwise.
    if ! apt-get update -q -o DPkg::Lock::Timeout=600 >"$log" 2>&1; then
      note "apt-get update reported errors (continuing if nodejs:$ARCH is available)"
    fi
    if grep -q '^[EW]:' "$log"; then grep '^[EW]:' "$log" | sed "s/^/$PROG: apt: /" >&2; fi
    cand="$(candidate)"
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
      cat "$log" >&2
      die "apt has no candidate for nodejs:$ARCH after apt-get update (see output above)"
    fi
  fi
}

# Debian 12 is merged-/usr: /lib -> usr/lib. Doing the same in the sysroot is not only
# faithful, it is needed: qemu 7.2's statx() ignores -L, so glibc's loader (armhf uses
# statx) wrongly marks /lib/arm-linux-gnueabihf as missing after one failed lookup and
# then cannot find libc.so.6. With everything reachable via the first search dir the
# loader never needs to stat a directory inside the sysroot.
merge_usr() {
  local root="$1" d
  for d in bin sbin lib lib64; do
    if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
      mkdir -p -- "$root/usr/$d"
      cp -a -- "$root/$d/." "$root/usr/$d/"
      rm -rf -- "${root:?}/$d"
      ln -s "usr/$d" "$root/$d"
    fi
  done
}

# qemu resolves symlinks with the host kernel: an absolute target would point at the
# host, so make every absolute link in the sysroot relative.
relativize_links() {
  local root="$1" link target rel
  while IFS= read -r -d '' link; do
    target="$(readlink -- "$link")"
    case "$target" in
      /*)
        rel="$(realpath -m --relative-to="$(dirname -- "$link")" -- "$root$target")"
        ln -sfn -- "$rel" "$link"
        ;;
    esac
  done < <(find "$root" -type l -print0)
}

# deb file name as apt-get download writes it (':' of an epoch becomes %3a)
deb_name() {
  local name="$1" arch="$2" version="$3"
  printf '%s_%s_%s.deb' "$name" "${version//:/%3a}" "$arch"
}

build_sysroot() {
  local pkgs specs=() name arch version f tmp log attempt
  ensure_apt_lists
  for attempt in 1 2; do
    if ! pkgs="$(resolve_packages)" || [ -z "$pkgs" ]; then
      die "apt could not resolve nodejs:$ARCH and its dependencies (output above)"
    fi
    grep -q "^nodejs $ARCH 18\." <<<"$pkgs" \
      || die "apt resolved nodejs:$ARCH to something other than Debian's Node 18:"$'\n'"$pkgs"
    specs=()
    while read -r name arch version; do
      specs+=("$name=$version")
    done <<<"$pkgs"

    mkdir -p -- "$DEBS"
    note "downloading ${#specs[@]} packages for $ARCH into $DEBS"
    log="$(mktemp)"; TMPFILES+=("$log")
    if (cd -- "$DEBS" && apt_arch download "${specs[@]}") >"$log" 2>&1; then
      break
    fi
    if [ "$attempt" -eq 1 ] && is_root; then
      # Stale package lists name files the mirror no longer has: update and retry once.
      note "apt-get download failed; refreshing package lists and retrying"
      sed "s/^/$PROG: apt: /" "$log" >&2
      ensure_apt_lists force
      continue
    fi
    cat "$log" >&2
    die "apt-get download failed for $ARCH (output above)"
  done

  tmp="$CACHE/.sysroot-$ARCH.tmp.$$"
  TMPFILES+=("$tmp")
  rm -rf -- "$tmp"
  mkdir -p -- "$tmp"
  while read -r name arch version; do
    f="$DEBS/$(deb_name "$name" "$arch" "$version")"
    [ -f "$f" ] || die "expected $f after apt-get download, it is missing"
    dpkg-deb -x "$f" "$tmp" || die "dpkg-deb -x $f failed"
  done <<<"$pkgs"

  merge_usr "$tmp"
  relativize_links "$tmp"
  # An empty cache file keeps the guest's loader from reading the host's (x86)
  # /etc/ld.so.cache; it then searches the multiarch dirs itself.
  mkdir -p -- "$tmp/etc"
  : >"$tmp/etc/ld.so.cache"

  [ -x "$tmp/usr/bin/node" ] || die "no usr/bin/node in the unpacked packages"
  [ -e "$tmp/$LOADER" ] || die "no $LOADER in the unpacked packages"

  # Start it before committing: a missing library shows up here, not later.
  local v
  if [ -z "$QEMU" ]; then
    # amd64: the sysroot's own loader and libraries (node -v needs none of /usr/share/nodejs).
    v="$("$tmp/$LOADER" --library-path "$tmp/usr/lib/x86_64-linux-gnu" "$tmp/usr/bin/node" -v 2>&1)" \
      || { printf '%s\n' "$v" >&2; die "the unpacked node does not start with its own loader (output above)"; }
  elif ! v="$("$QEMU" -L "$tmp" -cpu "$DEFAULT_CPU" "$tmp/usr/bin/node" -v 2>&1)"; then
    printf '%s\n' "$v" >&2
    die "the unpacked node does not start under $QEMU_NAME (output above)"
  fi
  case "$v" in
    v18.*) ;;
    *) die "unexpected 'node -v' output from the new sysroot: $v" ;;
  esac

  {
    printf 'format=%s\n' "$FORMAT"
    printf 'arch=%s\n' "$ARCH"
    printf 'node=%s\n' "$v"
    printf 'built=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf '%s\n' "$pkgs" | sed 's/^/package=/'
  } >"$tmp/.roofbench-sysroot"

  # Swap in the new sysroot. Wrappers only refer to $ROOT, so this is all that changes.
  rm -rf -- "$ROOT"
  mv -- "$tmp" "$ROOT"

  # Drop downloads that the current set no longer uses.
  local keep=() d base k found
  while read -r name arch version; do keep+=("$(deb_name "$name" "$arch" "$version")"); done <<<"$pkgs"
  for d in "$DEBS"/*.deb; do
    [ -e "$d" ] || continue
    base="$(basename -- "$d")"
    found=""
    for k in "${keep[@]}"; do [ "$k" = "$base" ] && { found=1; break; }; done
    [ -n "$found" ] || rm -f -- "$d"
  done
}

BUILT=""
if sysroot_complete; then
  if [ "${ROOFBENCH_ARM_REFRESH:-}" = "1" ]; then
    ensure_apt_lists
    want="$(resolve_packages)" || die "apt could not resolve nodejs:$ARCH (output above)"
    have="$(sed -n 's/^package=//p' "$STAMP")"
    if [ "$want" != "$have" ]; then
      note "package versions changed; rebuilding $ROOT"
      build_sysroot
      BUILT=1
    fi
  fi
else
  if [ -e "$ROOT" ]; then note "$ROOT is incomplete or from an older format; rebuilding"; fi
  build_sysroot
  BUILT=1
fi

# amd64: the sysroot is all (no emulation, so no wrapper).
if [ "$ARCH" = amd64 ]; then
  printf '%s\n' "$ROOT"
  exit 0
fi

# ---------------------------------------------------------- wrapper -------

# single-quote a string for /bin/sh
shq() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

readonly MARKER="# roofbench arm-node wrapper"

write_wrapper() {
  local dest="$1" tmpw
  tmpw="$dest.tmp.$$"
  TMPFILES+=("$tmpw")
  {
    printf '#!/bin/sh\n'
    printf '%s (arch=%s)\n' "$MARKER" "$ARCH"
    printf '# Debian 12 nodejs:%s under %s; generated by scripts/arm-node.sh, see docs/emulated-boards.md.\n' "$ARCH" "$QEMU_NAME"
    printf '# ROOFBENCH_ARM_CPU picks the emulated CPU (default %s).\n' "$DEFAULT_CPU"
    # The runner's probe reads ROOFBENCH_EMULATION: under qemu-user, /proc/cpuinfo and os.cpus() describe the host.
    # shellcheck disable=SC2016 # for the wrapper to expand
    printf 'ROOFBENCH_EMULATION="%s -cpu ${ROOFBENCH_ARM_CPU:-%s}"; export ROOFBENCH_EMULATION\n' "$QEMU_NAME" "$DEFAULT_CPU"
    # shellcheck disable=SC2016 # $@ and ${ROOFBENCH_ARM_CPU} are for the wrapper to expand
    printf 'exec %s -L %s -cpu "${ROOFBENCH_ARM_CPU:-%s}" %s "$@"\n' \
      "$(shq "$QEMU")" "$(shq "$ROOT")" "$DEFAULT_CPU" "$(shq "$NODE_BIN")"
  } >"$tmpw"
  chmod 0755 "$tmpw"
  mv -f -- "$tmpw" "$dest"
}

case "$ARCH" in
  armhf) OTHER="arm64" ;;
  *) OTHER="armhf" ;;
esac

not_ours() {
  [ -e "$1" ] && ! grep -qF -- "$MARKER" "$1" 2>/dev/null
}
for f in "$DIR/node-$ARCH" "$DIR/node"; do
  if not_ours "$f"; then
    die "$f exists and is not a wrapper written by this script; not overwriting it"
  fi
done

write_wrapper "$DIR/node-$ARCH"
if [ -e "$DIR/node-$OTHER" ]; then
  # Both architectures share DIR: an unqualified DIR/node would be ambiguous.
  if [ -e "$DIR/node" ] && grep -qF -- "$MARKER" "$DIR/node" 2>/dev/null; then
    rm -f -- "$DIR/node"
  fi
  note "DIR holds both architectures: use $DIR/node-armhf and $DIR/node-arm64 (no $DIR/node)"
else
  write_wrapper "$DIR/node"
fi
WRAPPER="$DIR/node-$ARCH"

# ---------------------------------------------------------- checks --------

# Always: it starts and is Node 18 (about 0.1 s).
out="$("$WRAPPER" -v 2>&1)" || die "$WRAPPER -v failed: $out"
case "$out" in
  v18.*) ;;
  *) die "$WRAPPER -v printed '$out', expected v18.x" ;;
esac

# After a build, or on request: architecture and WebAssembly SIMD (a few seconds).
if [ -n "$BUILT" ] || [ "${ROOFBENCH_ARM_VERIFY:-}" = "1" ]; then
  check_js='
const bytes = Uint8Array.from([0,97,115,109,1,0,0,0, 1,7,1,96,3,127,127,127,0, 3,2,1,0, 5,3,1,0,1,
  7,13,2,3,97,100,100,0,0,3,109,101,109,2,0,
  10,25,1,23,0,32,2,32,0,253,0,4,0,32,1,253,0,4,0,253,228,1,253,11,4,0,11]);
const valid = WebAssembly.validate(bytes);
const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes));
const f = new Float32Array(inst.exports.mem.buffer);
f.set([1.5, 2.25, -3, 1e10], 0); f.set([0.5, 0.75, 3, 1], 4);
inst.exports.add(0, 16, 32);
console.log([process.arch, valid, Array.from(f.subarray(8, 12)).join(",")].join(" "));'
  out="$("$WRAPPER" -e "$check_js" 2>&1)" || die "WebAssembly SIMD check failed under $WRAPPER: $out"
  [ "$out" = "$NODE_ARCH true 2,3,0,10000000000" ] \
    || die "self-check: expected '$NODE_ARCH true 2,3,0,10000000000', got '$out'"
  note "verified: $WRAPPER is $(sed -n 's/^node=//p' "$STAMP") ($NODE_ARCH), WebAssembly SIMD ok"
fi

printf '%s\n' "$WRAPPER"

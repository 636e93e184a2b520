#!/usr/bin/env bash
# scripts/build-native.sh ARCH...
#
# Builds the native example (examples/native-conv: native-conv and native-ceilings) for each ARCH,
# into examples/native-conv/build/ARCH/, statically linked. See docs/native-kernels.md.
#
#   ARCH   x86-64 | armhf | arm64 | all
#
# Compilers: Debian's cross compilers (gcc-arm-linux-gnueabihf, gcc-aarch64-linux-gnu, and
# gcc-x86-64-linux-gnu on an ARM host), or the machine's own gcc for its own architecture. A missing
# one is installed with apt-get (as root, or with passwordless sudo), with the C library for static
# linking (libc6-dev-ARCH-cross), after waiting for any other apt or dpkg run to finish.
#
# Environment: ROOFBENCH_NATIVE_OUT (build directory, default examples/native-conv/build),
#              ROOFBENCH_NATIVE_NO_INSTALL=1 (fail instead of installing).
set -euo pipefail

readonly PROG="build-native.sh"
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
SRC="$ROOT/examples/native-conv"
OUT="${ROOFBENCH_NATIVE_OUT:-$SRC/build}"

die() {
  printf '%s: error: %s\n' "$PROG" "$*" >&2
  exit 1
}
note() { printf '%s: %s\n' "$PROG" "$*" >&2; }
usage() {
  cat >&2 <<'USAGE'
usage: scripts/build-native.sh ARCH...
  ARCH  x86-64 | armhf | arm64 | all
USAGE
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    return 1
  fi
}

host_arch() {
  case "$(uname -m)" in
    x86_64) echo x86-64 ;;
    aarch64 | arm64) echo arm64 ;;
    armv7l | armv8l | armv6l) echo armhf ;;
    *) uname -m ;;
  esac
}

# The compiler for ARCH, and the Debian packages that provide it.
compiler_for() {
  local arch="$1"
  if [ "$arch" = "$(host_arch)" ]; then
    echo "gcc|gcc libc6-dev"
    return
  fi
  case "$arch" in
    x86-64) echo "x86_64-linux-gnu-gcc|gcc-x86-64-linux-gnu libc6-dev-amd64-cross" ;;
    armhf) echo "arm-linux-gnueabihf-gcc|gcc-arm-linux-gnueabihf libc6-dev-armhf-cross" ;;
    arm64) echo "aarch64-linux-gnu-gcc|gcc-aarch64-linux-gnu libc6-dev-arm64-cross" ;;
  esac
}

# apt-get install, one at a time: flock against our own parallel runs, DPkg::Lock::Timeout against
# anything else holding the dpkg lock (as test/helpers/test-sshd.sh and scripts/arm-node.sh do).
install_packages() {
  [ "${ROOFBENCH_NATIVE_NO_INSTALL:-}" != 1 ] || die "missing $* and ROOFBENCH_NATIVE_NO_INSTALL=1: install them with apt-get"
  command -v apt-get >/dev/null 2>&1 || die "missing $* and apt-get is not available: install a cross compiler for the architecture by hand"
  note "installing $* with apt-get"
  local lock="${TMPDIR:-/tmp}/roofbench-native-install.lock" log
  log="$(mktemp)"
  (
    if command -v flock >/dev/null 2>&1; then
      exec 9>"$lock"
      flock -w 900 9 || true
    fi
    export DEBIAN_FRONTEND=noninteractive
    install() { as_root apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@"; }
    if ! install "$@" >>"$log" 2>&1; then
      # Typically a machine whose package lists were never fetched.
      note "apt-get install failed; running apt-get update and retrying"
      as_root apt-get -o DPkg::Lock::Timeout=600 update -q >>"$log" 2>&1 || note "apt-get update reported errors; trying the install anyway"
      install "$@" >>"$log" 2>&1
    fi
  ) || {
    cat "$log" >&2
    rm -f -- "$log"
    die "could not install $* (needs root or passwordless sudo, and Debian's apt repositories; apt output above)"
  }
  rm -f -- "$log"
}

build() {
  local arch="$1" spec cc pkgs
  spec="$(compiler_for "$arch")"
  cc="${spec%%|*}"
  pkgs="${spec#*|}"
  if ! command -v "$cc" >/dev/null 2>&1; then
    [ -n "$pkgs" ] || die "no compiler for $arch"
    # shellcheck disable=SC2086 # a list of package names
    install_packages $pkgs
    command -v "$cc" >/dev/null 2>&1 || die "installed $pkgs but $cc is still not found"
  fi
  note "building $arch with $cc"
  make -s -C "$SRC" ARCH="$arch" CC="$cc" OUT="$OUT/$arch" all >&2 || die "make failed for $arch (output above)"
  printf '%s\n' "$OUT/$arch"
}

[ "$#" -ge 1 ] || {
  usage
  die "expected at least one ARCH"
}
if [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  usage
  exit 0
fi
ARCHS=()
for a in "$@"; do
  case "$a" in
    x86-64 | armhf | arm64) ARCHS+=("$a") ;;
    all) ARCHS+=(x86-64 armhf arm64) ;;
    x86_64 | amd64) die "unknown ARCH '$a' (did you mean x86-64?)" ;;
    aarch64) die "unknown ARCH '$a' (did you mean arm64?)" ;;
    *)
      usage
      die "unknown ARCH '$a' (expected x86-64, armhf, arm64 or all)"
      ;;
  esac
done
command -v make >/dev/null 2>&1 || install_packages make
for a in "${ARCHS[@]}"; do build "$a"; done

#!/usr/bin/env bash
# roofbench nightly: bench each device, store every run in the history, compare
# each device's new run with its previous one, and rebuild the dashboard.
#
#   scripts/nightly.sh [options] DEVICE... [-- BENCH-ARGS...]
#
#   scripts/nightly.sh rpi3 jetson
#   scripts/nightly.sh --commit-from ../kernels rpi3 -- --quick --suite conv
#
# options:
#   --history FILE      the history store (exported as ROOFBENCH_HISTORY; default reports/history.sqlite)
#   --devices FILE      the device registry, passed to bench (default devices.yaml)
#   --commit SHA        the git commit of the code under test, stored with every run
#   --commit-from PATH  read that commit from the git checkout at PATH
#   --threshold T       compare's practical threshold (3% or 0.03; default: the store's setting)
#   --contention-limit C  other processes' CPU (cores) above which a run counts as contended: its
#                       timings then give no verdict (default: compare's, 0.5 or 10% of the cores)
#   --dashboard DIR     where the dashboard goes (default reports/dashboard)
#   --out DIR           where this night's logs and comparisons go (default reports/nightly/<UTC date and time>)
#   -h, --help          this text
# Arguments after -- go to every `npm run bench` unchanged.
#
# The devices run one after the other (each on its own, so one device's load
# does not disturb another's timings). A device whose run fails, or ends
# incomplete (unreachable, runner died), is reported and the others still run;
# the dashboard is rebuilt at the end whatever happened.
#
# Each run is stored by bench itself; the script also imports the run's
# directory (a no-op when bench stored it already; it fills in the commit),
# so nothing is lost if storing failed during the bench.
#
# Each device's new run is compared with its previous run that measured the
# same thing (same options, size, cases and variants; compare says so, and
# lists the differences when there is none). A run during which other work
# loaded the device is marked contended and gives no timing verdict: the
# summary says so instead of reporting a regression or an improvement.
#
# Exit status: 0 when every device ran and nothing regressed; 1 when a device's
# run failed or a comparison found a regression; 2 on a usage error.
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | grep '^#' | sed -e 's/^# \{0,1\}//'; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 2

devices=()
bench_args=()
commit=""
commit_from=""
threshold=""
contention_limit=""
dashboard_dir=""
out=""
registry=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --history) [ $# -ge 2 ] || { echo "nightly: --history needs a file" >&2; exit 2; }; export ROOFBENCH_HISTORY="$(realpath -m "$2")"; shift 2 ;;
    --devices) [ $# -ge 2 ] || { echo "nightly: --devices needs a file" >&2; exit 2; }; registry="$2"; shift 2 ;;
    --commit) [ $# -ge 2 ] || { echo "nightly: --commit needs a SHA" >&2; exit 2; }; commit="$2"; shift 2 ;;
    --commit-from) [ $# -ge 2 ] || { echo "nightly: --commit-from needs a path" >&2; exit 2; }; commit_from="$2"; shift 2 ;;
    --threshold) [ $# -ge 2 ] || { echo "nightly: --threshold needs a value" >&2; exit 2; }; threshold="$2"; shift 2 ;;
    --contention-limit) [ $# -ge 2 ] || { echo "nightly: --contention-limit needs a number of cores" >&2; exit 2; }; contention_limit="$2"; shift 2 ;;
    --dashboard) [ $# -ge 2 ] || { echo "nightly: --dashboard needs a directory" >&2; exit 2; }; dashboard_dir="$2"; shift 2 ;;
    --out) [ $# -ge 2 ] || { echo "nightly: --out needs a directory" >&2; exit 2; }; out="$2"; shift 2 ;;
    --) shift; bench_args=("$@"); break ;;
    -*) echo "nightly: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) devices+=("$1"); shift ;;
  esac
done
if [ ${#devices[@]} -eq 0 ]; then
  echo "nightly: name at least one device, e.g. scripts/nightly.sh rpi3 jetson (see --help)" >&2
  exit 2
fi
if [ -n "$commit_from" ]; then
  if ! commit="$(git -C "$commit_from" rev-parse --verify 'HEAD^{commit}' 2>/dev/null)"; then
    echo "nightly: --commit-from $commit_from: not a git checkout with a commit" >&2
    exit 2
  fi
fi

stamp="$(date -u +%Y-%m-%dT%H-%M-%SZ)"
out="${out:-reports/nightly/$stamp}"
mkdir -p "$out" || exit 2
tsx=(node --import tsx)
history=("${tsx[@]}" harness/history/cli.ts)
reg_args=()
[ -n "$registry" ] && reg_args=(--devices "$registry")
thr_args=()
[ -n "$threshold" ] && thr_args=(--threshold "$threshold")
[ -n "$contention_limit" ] && thr_args+=(--contention-limit "$contention_limit")
commit_args=()
[ -n "$commit" ] && commit_args=(--commit "$commit")

failed=()
regressed=()
summary="$out/summary.md"
{
  echo "# roofbench nightly $stamp"
  echo
  [ -n "$commit" ] && echo "commit under test: \`$commit\`" && echo
} >"$summary"

for d in "${devices[@]}"; do
  echo "== $d: bench =="
  log="$out/bench-$d.jsonl"
  npm run --silent bench -- --device "$d" "${reg_args[@]}" --json "${bench_args[@]}" >"$log" 2>"$out/bench-$d.stderr"
  bench_rc=$?
  # The run's directory and status, from bench's run-complete line.
  info="$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.startsWith("{"));
    for (const l of lines) { try { const e = JSON.parse(l); if (e.type === "run-complete") { console.log(e.status + "\t" + e.dir); process.exit(0); } } catch {} }
  ' "$log")"
  status="${info%%$'\t'*}"
  dir="${info#*$'\t'}"
  if [ -z "$info" ]; then
    echo "$d: bench exited $bench_rc without finishing a run; see $out/bench-$d.stderr" >&2
    tail -n 5 "$out/bench-$d.stderr" >&2
    failed+=("$d")
    echo "- **$d: FAILED** (bench exit $bench_rc, no run)" >>"$summary"
    continue
  fi
  echo "$d: run $status in $dir (bench exit $bench_rc)"
  "${history[@]}" import "${commit_args[@]}" "$dir" || { echo "$d: storing the run in the history failed" >&2; failed+=("$d"); }
  if [ "$status" != complete ]; then
    failed+=("$d")
    echo "- **$d: run $status** ($dir)" >>"$summary"
    continue
  fi
  echo "== $d: compare latest previous =="
  "${history[@]}" compare latest previous --device "$d" --if-exists "${thr_args[@]}" --format markdown --out "$out/compare-$d.md"
  "${history[@]}" compare latest previous --device "$d" --if-exists "${thr_args[@]}" | tee "$out/compare-$d.txt"
  rc=${PIPESTATUS[0]}
  case $rc in
    0)
      if grep -q '^note: no timing verdicts' "$out/compare-$d.txt"; then
        echo "- $d: no timing verdict, the run was contended ([comparison](compare-$d.md))" >>"$summary"
      else
        echo "- $d: no regression ([comparison](compare-$d.md))" >>"$summary"
      fi
      ;;
    1) regressed+=("$d"); echo "- **$d: REGRESSED** ([comparison](compare-$d.md))" >>"$summary" ;;
    *) failed+=("$d"); echo "- **$d: compare failed** (exit $rc)" >>"$summary" ;;
  esac
done

echo "== dashboard =="
dash_args=()
[ -n "$dashboard_dir" ] && dash_args=(--out "$dashboard_dir")
if ! "${history[@]}" dashboard "${dash_args[@]}"; then
  echo "nightly: the dashboard could not be built" >&2
  failed+=("dashboard")
fi

echo
echo "nightly $stamp: ${#devices[@]} device(s); failed: ${failed[*]:-none}; regressed: ${regressed[*]:-none}"
echo "summary: $summary"
if [ ${#failed[@]} -gt 0 ] || [ ${#regressed[@]} -gt 0 ]; then exit 1; fi
exit 0

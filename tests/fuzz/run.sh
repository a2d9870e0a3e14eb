#!/usr/bin/env bash
# Runs fuzz targets of the clang build one after another, each for
# <seconds>, and prints each one's executions:
#   tests/fuzz/run.sh <seconds> [target...]    (default: every target)
# Each target starts from its committed seeds (tests/fuzz/corpus/<target>/)
# plus what earlier runs in this build directory added
# (<build>/fuzz/corpus/<target>/); a crashing input is saved as
# <build>/fuzz/artifacts/<target>-crash-* and the script fails.
# FUZZ_NICE=1 runs them under nice (long runs beside other work);
# FUZZ_RUNS=<n> also stops each target after n executions.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=$1
shift
targets=("$@")
((${#targets[@]})) || targets=(dataset request sample_log snapshot manifest)
dir=${CLANG_BUILD_DIR:-build-clang}
# -timeout is wall-clock time: under nice, time spent waiting for a busy CPU
# counts too, so a niced run allows 120 s per input instead of 10 s.
nice=()
timeout=10
[[ "${FUZZ_NICE:-0}" == 1 ]] && nice=(nice -n 19) && timeout=120
runs=()
[[ -n "${FUZZ_RUNS:-}" ]] && runs=(-runs="$FUZZ_RUNS")
mkdir -p "$dir/fuzz/artifacts"
for t in "${targets[@]}"; do
  corpus=$dir/fuzz/corpus/$t
  log=$dir/fuzz/$t.log
  mkdir -p "$corpus"
  # -rss_limit_mb/-timeout: an input that takes 2 GB or the timeout is a
  # finding.
  if ! "${nice[@]}" "$dir/tests/fuzz/${t}_fuzz" \
      -max_total_time="$seconds" "${runs[@]}" -timeout="$timeout" \
      -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/fuzz/artifacts/$t-" \
      "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $t failed; the input is in $dir/fuzz/artifacts/" >&2
    exit 1
  fi
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  elapsed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
  echo "fuzz $t: $executions executions in ${elapsed:-$seconds} s, no crash"
done

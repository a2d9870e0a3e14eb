#!/usr/bin/env bash
# Measures with streamfit-bench and draws the figures of docs/PERFORMANCE.md:
#   docs/img/throughput_vs_batch.png  Observe samples/s vs examples per
#                                     message, streamfit and no-op ceiling
#   docs/img/predict_latency.png      Predict latency histograms, idle and
#                                     under full Observe load
# Usage: bench/plot.sh [build dir]   (RUNS=3 DURATION=10 by default)
# Needs gnuplot (apt-get install gnuplot-nox), which the build does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=${1:-build}/bench/streamfit-bench
out=docs/img
runs=${RUNS:-3}
duration=${DURATION:-10}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
mkdir -p "$out"

# Throughput vs batch size: about 2.5M samples per run (at most 200k messages).
for batch in 1 8 64 256 1024; do
  messages=$(( 2560000 / batch ))
  (( messages > 200000 )) && messages=200000
  "$bench" --mode=observe-stream --batch="$batch" --messages="$messages" \
    --runs="$runs" --csv > "$data/batch_$batch.txt"
  cat "$data/batch_$batch.txt"
  grep '^csv,' "$data/batch_$batch.txt" >> "$data/batch.csv"
done
cp "$data/batch.csv" "$out/throughput_vs_batch.csv"
awk -F, '$3=="noop"{print $4, $7}' "$data/batch.csv" > "$data/noop.dat"
awk -F, '$3=="streamfit"{print $4, $7}' "$data/batch.csv" > "$data/streamfit.dat"
gnuplot <<GP
set terminal pngcairo size 800,500 noenhanced
set output "$out/throughput_vs_batch.png"
set title "Observe (ObserveStream, 10 dense features, 1 connection): median of $runs"
set xlabel "examples per message"
set ylabel "samples per second"
set logscale xy
set xtics (1, 8, 64, 256, 1024)
set grid
set key top left
plot "$data/noop.dat" using 1:2 with linespoints lw 2 title "no-op server (transport ceiling)", \
     "$data/streamfit.dat" using 1:2 with linespoints lw 2 title "streamfit"
GP

# Predict latency (1 example per call, closed loop, 1 in flight), idle and
# while one ObserveStream of 64-example messages runs flat out.
"$bench" --mode=mixed --servers=streamfit --duration_s="$duration" --runs=1 \
  --hist_out="$data/hist" > "$data/mixed.txt"
grep -v '^  <=' "$data/mixed.txt"
gnuplot <<GP
set terminal pngcairo size 800,500 noenhanced
set output "$out/predict_latency.png"
set title "Predict latency, 1 example per call, streamfit (one run of ${duration} s each)"
set xlabel "latency (microseconds, log scale)"
set ylabel "fraction of calls"
set logscale x
set grid
plot "$data/hist_streamfit_idle.dat" using 1:2 with steps lw 2 title "idle", \
     "$data/hist_streamfit_load.dat" using 1:2 with steps lw 2 title "under full Observe load"
GP
cp "$data/hist_streamfit_idle.dat" "$out/predict_latency_idle.dat"
cp "$data/hist_streamfit_load.dat" "$out/predict_latency_load.dat"
echo "wrote $out/throughput_vs_batch.png $out/predict_latency.png (and data)"

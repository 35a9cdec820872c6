#!/usr/bin/env bash
# Runs every measurement docs/PERFORMANCE.md quotes, on this machine, into
# docs/perf/: the micro-benchmarks (Google Benchmark JSON), the load
# harness (our watcher, the floor, the textbook baseline and ZeroMQ in the
# same run), and the scaling plot. Takes about 40 minutes; nothing else
# should run.
#   scripts/bench.sh            everything
#   scripts/bench.sh micro      only the micro-benchmarks and the plot
#   scripts/bench.sh load       only the load harness
#   scripts/bench.sh cluster    only cluster presence on Redis (docs/perf/cluster.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh bench
scripts/install-deps.sh cluster
cmake --preset release -DHEARTBEAT_WITH_REDIS=ON >/dev/null
cmake --build --preset release -j "$(nproc 2>/dev/null || echo 2)" \
    --target registry_bench load_harness heartbeat_peer zmq_peer cluster_bench
out=docs/perf
mkdir -p "$out"
bin=build/release/bench

if [ "${1:-all}" = cluster ] || [ "${1:-all}" = all ]; then
    scripts/with-redis.sh "$bin/cluster_bench" --peers 10000 --rounds 5 | tee "$out/cluster.txt"
fi
[ "${1:-all}" = cluster ] && exit 0

[ "${1:-all}" = load ] || "$bin/registry_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_min_time=0.5 --benchmark_out="$out/registry_bench.json" --benchmark_out_format=json
[ "${1:-all}" = load ] || python3 scripts/plot_scaling.py "$out/registry_bench.json" "$out/scaling.svg"
[ "${1:-all}" = micro ] && exit 0

rm -f "$out/load.jsonl"
lscpu >"$out/lscpu.txt" # these machines change: the figures are this one's
# A kind that fails (the rival, under load) is reported, not fatal.
run() { "$bin/load_harness" --victims 10 --warmup-s 5 --window-s 10 --json "$out/load.jsonl" "$@" | tee -a "$out/load.md" || true; }
: >"$out/load.md"
# Three runs of the two loads the floor targets are judged at (medians in
# docs/PERFORMANCE.md), every kind in each run.
kinds=heartbeat,heartbeat+io-context+single-threaded,heartbeat+io-context+single-threaded+batched,floor,floor+batched,baseline,zmq
for seed in 1 2 3; do
    run --connections 9000 --interval-ms 1000 --kinds "$kinds" --seed "$seed"
    run --connections 2000 --interval-ms 100 --kinds "$kinds" --seed "$seed"
done
run --connections 9000 --interval-ms 100 --kinds heartbeat,floor,baseline,zmq
run --connections 19000 --interval-ms 1000 --kinds heartbeat,floor,baseline

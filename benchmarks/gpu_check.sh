#!/usr/bin/env bash
# GPU check (issue 5): on a machine with a CUDA GPU, in under 5 minutes,
#   1. the GPU tests (tests/test_gpu.py: CPU/GPU parity, no host sync in the step, a run on cuda),
#   2. the benchmarks with --device cuda (quick repeats),
#   3. the seed preset (sigmoid, tanh, relu; 1 x 100; 100 epochs) on synthetic MNIST-sized
#      data with evaluation every 10 iterations, timed (target: under 60 s on one H200),
# and writes a short report to ${OUT:-bench-results}/gpu_report.txt.
# Without CUDA the GPU parts are skipped with a line saying so; the CPU-only parts (test
# collection, synthetic data, a 20-iteration CPU smoke run of the same command) still run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench-results}"
mkdir -p "$OUT"
REPORT="$OUT/gpu_report.txt"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
CLI="$(dirname "$PY")/actlab-tui"
[ -x "$CLI" ] || CLI="$PY -m actlab.tui"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
status=0

say() { echo "$*" | tee -a "$REPORT"; }
: >"$REPORT"
say "actlab GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(hostname)"
HAS_CUDA="$($PY -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)"
say "torch: $($PY -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda)')"
if [ "$HAS_CUDA" = 1 ]; then
  say "gpu: $($PY -c 'import torch; p = torch.cuda.get_device_properties(0); print(p.name, f"{p.total_memory / 2**30:.0f} GiB")')"
else
  say "gpu: none (CUDA not available): GPU parts are skipped below"
fi

# 1. GPU tests (skipped, not failed, without CUDA)
say ""
say "== 1. GPU tests (tests/test_gpu.py)"
if timeout 120 "$PY" -m pytest tests/test_gpu.py -q -o addopts= -p no:cacheprovider >"$TMP/pytest.txt" 2>&1; then
  say "  $(tail -n 1 "$TMP/pytest.txt")"
else
  status=1
  say "  FAILED:"; tail -n 30 "$TMP/pytest.txt" | sed 's/^/    /' | tee -a "$REPORT"
fi

# 2. benchmarks on the GPU
say ""
say "== 2. benchmarks --device cuda --quick"
if [ "$HAS_CUDA" = 1 ]; then
  if timeout 150 "$PY" -m benchmarks --quick --device cuda --json "$OUT/gpu_bench.json" >"$TMP/bench.txt" 2>&1; then
    sed 's/^/  /' "$TMP/bench.txt" >>"$REPORT"
    say "  $(grep -E '^[0-9]+ PASS' "$TMP/bench.txt")"
  else
    status=1
    say "  FAILED or timed out:"; tail -n 30 "$TMP/bench.txt" | sed 's/^/    /' | tee -a "$REPORT"
  fi
else
  say "  skipped: no CUDA GPU on this machine"
fi

# 3. the seed preset on synthetic MNIST-sized data, evaluation every 10 iterations
say ""
say "== 3. seed preset (3 members, 100 epochs) on synthetic MNIST-sized data, --eval-every 10"
if ! "$PY" -m benchmarks.synthetic "$TMP/data" >/dev/null; then
  status=1; say "  FAILED to write synthetic data"
elif [ "$HAS_CUDA" = 1 ]; then
  t0=$(date +%s.%N)
  if timeout 240 $CLI --batch --preset seed --data-dir "$TMP/data" --eval-every 10 --device cuda -q \
      --out "$TMP/seed-run" >"$TMP/seed.txt" 2>&1; then
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    verdict=$(awk -v s="$secs" 'BEGIN { print (s < 60) ? "PASS" : "MISS" }')
    say "  wall time of the whole command: ${secs} s (target < 60 s on one H200): $verdict"
    sed 's/^/  /' "$TMP/seed.txt" | tee -a "$REPORT" >/dev/null
    cp "$TMP/seed-run/summary.json" "$OUT/gpu_seed_summary.json" 2>/dev/null || true
  else
    status=1
    say "  FAILED or over 240 s:"; tail -n 20 "$TMP/seed.txt" | sed 's/^/    /' | tee -a "$REPORT"
  fi
else
  say "  skipped on the GPU: no CUDA. CPU smoke run of the same command (20 iterations):"
  t0=$(date +%s.%N)
  if $CLI --batch --preset seed --data-dir "$TMP/data" --eval-every 10 --device cpu -q \
      --max-iterations 20 --out "$TMP/seed-run" >"$TMP/seed.txt" 2>&1; then
    say "  ok in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  else
    status=1
    say "  FAILED:"; tail -n 20 "$TMP/seed.txt" | sed 's/^/    /' | tee -a "$REPORT"
  fi
fi
say ""
say "report: $REPORT (exit $status)"
exit $status

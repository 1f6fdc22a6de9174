#!/usr/bin/env bash
# The GPU measurements of issue 7 in two device calls (each well inside the 10-minute limit).
# Prepare here first: `bash benchmarks/device_wheels.sh`; then call the device tool with
# carry [".whl", ".devdata"] and the command `bash benchmarks/gpu_session.sh throughput` (then
# `... numerics`). Results land in $OUT (device tool) or benchmarks/results/gpu/.
#   throughput: tests/gpu, bench_train (ladder, ours with perf=fast levers, end-to-end with the real
#               DataModule and 8 workers), profile_step of the baseline and of the fast step
#   numerics:   numerics_check at 256², batch 32, 200 steps, perf=fast vs fp32
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:?usage: gpu_session.sh throughput|numerics}
out=${OUT:-benchmarks/results/gpu}
data=${DATA:-.devdata/selfie2anime/train}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
case "$phase" in
  throughput)
    python3 -m pytest tests/gpu -q -p no:cacheprovider 2>&1 | tail -5 | tee "$out/tests_gpu.txt"
    python3 benchmarks/bench_train.py --device cuda --batch-size 32 --size 256 --steps 20 \
      --warmup 5 --precision bf16-mixed --channels-last --compile --fused --ladder \
      --data "$data" --workers 8 --out "$out/train_throughput.json" 2>&1 | grep -v Warning
    python3 benchmarks/profile_step.py --device cuda --baseline --out "$out/profile_baseline.json"
    python3 benchmarks/profile_step.py --device cuda --bf16 --channels-last --fused \
      --out "$out/profile_fast.json"
    ;;
  numerics)
    python3 benchmarks/numerics_check.py --accelerator gpu --data "$data" --size 256 \
      --batch-size 32 --workers 8 --steps 200 --workdir /tmp/numerics \
      --out "$out/numerics_gpu.json" 2>&1 | grep -v Warning | tail -30
    ;;
  *) echo "unknown phase $phase (throughput | numerics)" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# The GPU measurements of issue 7 in three device calls (one phase each; none is timed on a GPU
# yet, so watch the first one). Prepare here first: `bash benchmarks/device_wheels.sh`; then call
# the device tool with carry [".whl", ".devdata"] and `bash benchmarks/gpu_session.sh PHASE`.
# Results land in $OUT (device tool) or benchmarks/results/gpu/.
#   profile:    tests/gpu, then profile_step of the baseline, of the eager fast step and of the
#               compiled fast step (device time by kind of work, launch gaps)
#   throughput: bench_train (ladder, ours with the perf=fast levers, end to end with the real
#               DataModule and 8 workers)
#   numerics:   numerics_check at 256², batch 32, 200 steps, perf=fast vs fp32 (random VGG unless
#               VGG=path/to/vgg19-dcbb9e9d.pth is set and carried)
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:?usage: gpu_session.sh profile|throughput|numerics}
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
  profile)
    # A failing GPU test is reported, not fatal: the profiles still run.
    python3 -m pytest tests/gpu -q -p no:cacheprovider >"$out/tests_gpu.txt" 2>&1 || true
    tail -5 "$out/tests_gpu.txt"
    python3 benchmarks/profile_step.py --device cuda --baseline --out "$out/profile_baseline.json"
    python3 benchmarks/profile_step.py --device cuda --bf16 --channels-last --fused \
      --out "$out/profile_fast_eager.json"
    python3 benchmarks/profile_step.py --device cuda --bf16 --channels-last --fused --compile \
      --out "$out/profile_fast_compiled.json"
    ;;
  throughput)
    python3 benchmarks/bench_train.py --device cuda --batch-size 32 --size 256 --steps 20 \
      --warmup 5 --precision bf16-mixed --channels-last --compile --fused --ladder \
      --data "$data" --workers 8 --out "$out/train_throughput.json" 2>&1 | grep -v Warning
    ;;
  numerics)
    python3 benchmarks/numerics_check.py --accelerator gpu --data "$data" --size 256 \
      --batch-size 32 --workers 8 --steps 200 --workdir /tmp/numerics \
      --vgg-weights "${VGG:-random}" --out "$out/numerics_gpu.json" 2>&1 | grep -v Warning | tail -30
    ;;
  *) echo "unknown phase $phase (profile | throughput | numerics)" >&2; exit 2 ;;
esac

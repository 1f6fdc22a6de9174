#!/usr/bin/env bash
# The GPU measurements of benchmarks/TRAIN_SPEED.md as ONE device call (`main`, at most 8 minutes) and an optional
# second call (`numerics`). Prepare here first: `bash benchmarks/device_wheels.sh` (fills .whl/ and
# .devdata/, both git-ignored), then call the device tool exactly as benchmarks/TRAIN_SPEED.md
# ("Running it on a GPU") says. Every step writes its result under $OUT as soon as it finishes, so
# a call stopped at its limit still returns what was done.
#
#   main:     1 tests/gpu                          -> tests_gpu.txt
#             2 bench_train: plain fp32 eager baseline and ours (perf=fast levers), end to end
#               with the real DataModule and 8 workers, 256², batch 32 -> train_throughput.json
#             3 profile_step of ours (device time by kind of work, launch gaps) -> profile_step_gpu.json
#             4 evaluation throughput: 1,000 photos stylized + FID/KID/LPIPS (Inception and
#               AlexNet with random weights: same architecture and cost; no weight file travels)
#               -> eval_gpu.json
#             5 the lever ladder, only if enough of the budget is left -> train_ladder.json
#             session.log: everything printed, with each step's exit status and seconds.
#   numerics: numerics_check at 256², batch 32 (fp32 variants x seeds vs perf=fast), one seed
#             after another while the budget lasts, re-judged after each -> numerics_gpu.json
#             (+ _curves.csv), session_numerics.log.
#
# Environment: OUT (default outputs/gpu_session, git-ignored), BUDGET_S (seconds the script may
# use; default 450 for main, 280 for numerics), PYTHON (default python3), VGG (a carried
# vgg19-dcbb9e9d.pth for the numerics; default random), NUMERICS_STEPS (default 100),
# NUMERICS_SEEDS (default "1 2 3"), LIMIT_SCALE (multiplies each step's limit; 1, dry run 6).
# DRY_RUN=1 shrinks every step (CPU, 32², batch 2, a few steps,
# no torch.compile, 8 eval photos) to prove on a machine without a GPU that the script reaches
# every step and writes every file.
set -uo pipefail  # no -e: a failing step is logged and the next one still runs
cd "$(dirname "$0")/.."
phase=${1:-main}
case "$phase" in
  main | numerics) ;;
  *) echo "usage: gpu_session.sh [main|numerics] (got '$phase')" >&2; exit 2 ;;
esac
out=${OUT:-outputs/gpu_session}
PY=${PYTHON:-python3}
data=${DATA:-.devdata/selfie2anime/train}
if [ "$phase" = main ]; then budget=${BUDGET_S:-450}; else budget=${BUDGET_S:-280}; fi
mkdir -p "$out"
log="$out/session.log"
[ "$phase" = numerics ] && log="$out/session_numerics.log"
exec > >(tee -a "$log") 2>&1
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
started=$SECONDS

if [ "${DRY_RUN:-0}" = 1 ]; then
  device=cpu size=32 batch=2 steps=2 warmup=1 workers=2 eval_photos=8 eval_batch=4 kid_subsets=2
  compile=() ladder_min=0 nsteps=3 nwindow=1 nseeds="1 2" nvariants="channels_last cl_fused"
  nextra=(--no-compile)
  scale=${LIMIT_SCALE:-6}  # a shared CPU is slower than the GPU the limits are made for
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # oversubscribed OpenMP threads stall on shared cores
  # The device's install, checked here for tags (CPython 3.12, x86-64) without installing.
  if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --dry-run --no-index --no-deps --ignore-installed --only-binary=:all: \
      --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform any \
      --target /tmp/gpu_session_site .whl/*.whl && echo "dry run: .whl installs on CPython 3.12"
  else
    echo "dry run: no .whl/ here (run benchmarks/device_wheels.sh)"
  fi
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
else
  device=cuda size=256 batch=32 steps=20 warmup=5 workers=8 eval_photos=1000 eval_batch=64
  kid_subsets=100 compile=(--compile) ladder_min=170 nsteps=${NUMERICS_STEPS:-100} nwindow=10
  nseeds=${NUMERICS_SEEDS:-1 2 3} nvariants="channels_last compile" nextra=()
  scale=${LIMIT_SCALE:-1}
  if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 1; }
  fi
  export PYTHONPATH="$PWD/src:/tmp/site"
fi
if [ ! -d "$data/photo" ]; then
  echo "no $data/photo: run benchmarks/device_wheels.sh here and carry .devdata"; exit 2
fi

left() { echo $((budget - (SECONDS - started))); }
# step NAME LIMIT_S CMD...: run CMD under `timeout` (LIMIT_S x LIMIT_SCALE, cut to the budget left), log its exit
# status and seconds; skipped when under 20 s of the budget is left.
step() {
  local name=$1 limit=$2 remaining t0 rc
  shift 2
  limit=$((limit * scale))
  remaining=$(left)
  if [ "$remaining" -lt 20 ]; then
    echo "== $name: SKIPPED (${remaining}s of the budget left)"
    return 0
  fi
  [ "$limit" -gt "$remaining" ] && limit=$remaining
  echo "== $name (limit ${limit}s, $(left)s left): $*"
  t0=$SECONDS
  timeout --kill-after=5 "$limit" "$@"
  rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0))s"
}

echo "== phase $phase, budget ${budget}s, out $out, dry run ${DRY_RUN:-0}, $(date -u +%FT%TZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm \
  --format=csv,noheader
"$PY" -c "import torch, lightning, hydra; print('torch', torch.__version__, 'lightning', \
lightning.__version__, 'hydra', hydra.__version__, 'cuda', torch.cuda.is_available())"

if [ "$phase" = main ]; then
  step tests_gpu 100 bash -c "'$PY' -m pytest tests/gpu -q -p no:cacheprovider >'$out/tests_gpu.txt' 2>&1; \
rc=\$?; tail -5 '$out/tests_gpu.txt'; exit \$rc"
  common=(--device "$device" --batch-size "$batch" --size "$size" --steps "$steps"
    --warmup "$warmup" --precision bf16-mixed --channels-last "${compile[@]}" --fused)
  step bench_train 220 "$PY" benchmarks/bench_train.py "${common[@]}" --data "$data" \
    --workers "$workers" --out "$out/train_throughput.json"
  prof=(--device "$device" --batch-size "$batch" --size "$size" --bf16 --channels-last --fused)
  step profile_step 100 "$PY" benchmarks/profile_step.py "${prof[@]}" "${compile[@]}" \
    --out "$out/profile_step_gpu.json"
  step bench_eval 90 "$PY" benchmarks/bench_eval.py --device "$device" --num-photos "$eval_photos" \
    --num-reference "$eval_photos" --batch-size "$eval_batch" --num-workers "$workers" \
    --kid-subsets "$kid_subsets" --out "$out/eval_gpu.json"
  if [ "$(left)" -ge "$ladder_min" ]; then
    step ladder "$(left)" "$PY" benchmarks/bench_train.py "${common[@]}" --ladder \
      --out "$out/train_ladder.json"
  else
    echo "== ladder: SKIPPED ($(left)s left, needs ${ladder_min}s)"
  fi
else
  seeds=()
  for seed in $nseeds; do
    seeds+=("$seed")
    label=$(IFS=_; echo "${seeds[*]}")
    # --reuse: the seeds finished in an earlier pass are judged again, not retrained.
    step "numerics_seeds_$label" "$(left)" "$PY" benchmarks/numerics_check.py \
      --accelerator "$([ "$device" = cuda ] && echo gpu || echo cpu)" --data "$data" \
      --size "$size" --batch-size "$batch" --workers "$workers" --steps "$nsteps" \
      --window "$nwindow" --seeds "${seeds[@]}" --fp32-variants $nvariants "${nextra[@]}" \
      --vgg-weights "${VGG:-random}" --workdir /tmp/numerics --reuse \
      --out "$out/numerics_gpu.json"
    [ "$(left)" -lt 20 ] && break
  done
fi
echo "== done in $((SECONDS - started))s; files in $out:"
ls -l "$out"

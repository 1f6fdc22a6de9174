#!/usr/bin/env bash
# Wheels the lent GPU machine lacks (its image has torch, lightning, torchmetrics, opencv, pillow,
# scikit-image, pyyaml, tqdm), at the versions of requirements.lock, into .whl/ (git-ignored).
# Then, in the device call: carry .whl and .devdata, and run benchmarks/gpu_session.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
pin() { grep -i -E "^$1==" requirements.lock | head -1; }
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
    manylinux_2_24_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
for name in hydra-core omegaconf albumentations albucore annotated-types pydantic pydantic_core \
    simsimd stringzilla typing-inspection typing_extensions; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "$(pin "$name")"
done
# antlr4 4.9.3 (omegaconf's parser runtime) is published as an sdist only: build its pure wheel here.
python3 -m pip wheel -q --no-deps -w .whl antlr4-python3-runtime==4.9.3
# Real images for the end-to-end and numerics runs (../shared does not travel; a call carries at most
# 64 MiB): the 600 selfie2anime training photos as they are, the 600 anime images (mostly PNGs of
# ~95 KB) re-encoded as JPEG q95 (~25 KB), like the official JPEG style sets.
if [ -d ../shared/data/selfie2anime/train ]; then
  "${PYTHON:-.venv/bin/python}" - <<'PY'
import shutil
from pathlib import Path

from PIL import Image

src, dst = Path("../shared/data/selfie2anime/train"), Path(".devdata/selfie2anime/train")
shutil.rmtree(dst, ignore_errors=True)
(dst / "anime").mkdir(parents=True)
shutil.copytree(src / "photo", dst / "photo")
for path in sorted((src / "anime").iterdir()):
    Image.open(path).convert("RGB").save(dst / "anime" / f"{path.stem}.jpg", quality=95)
PY
fi
du -sh .whl .devdata

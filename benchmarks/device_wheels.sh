#!/usr/bin/env bash
# Prepare, here, what one device call needs and the lent GPU machine lacks (nothing can be fetched
# there; its image has torch 2.11, lightning 2.6.6, torchmetrics 1.9.0, numpy, pillow, opencv,
# scipy, scikit-image, pyyaml, tqdm, pytest, ...; /work/.library/device/KINDS.md):
#   .whl/     the wheels of the training, evaluation and test path at requirements.lock's versions,
#             for CPython 3.12 x86-64 (pip download --no-deps), then a check that every wheel's
#             requirements are met by another wheel or by the device image's package list;
#   .devdata/ a subset of ../shared/data/selfie2anime/train (photo/ and anime/, $DEV_IMAGES files
#             each, default 300, files copied unchanged).
# Both folders are git-ignored; the device call names them in `carry` (see TRAIN_SPEED.md).
# Needs network access to PyPI (here, not there). Idempotent: re-running refreshes both folders.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
count=${DEV_IMAGES:-300}
rm -rf .whl && mkdir -p .whl
pin() {
  local line
  line=$(grep -i -E "^$1==" requirements.lock | head -1)
  [ -n "$line" ] || { echo "device_wheels.sh: $1 is not pinned in requirements.lock" >&2; exit 2; }
  echo "$line"
}
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
    manylinux_2_24_x86_64 manylinux_2_31_x86_64 manylinux_2_34_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$tag")
done
# hydra-core + omegaconf (+ antlr4 below): configs; albumentations + albucore, pydantic (+ core,
# annotated-types, typing-inspection), simsimd, stringzilla: data pipeline; torch_fidelity: the FID
# Inception (torchmetrics imports it); typing_extensions: pydantic 2.14 needs a recent one.
wheels=(hydra-core omegaconf albumentations albucore pydantic pydantic_core annotated-types
  typing-inspection simsimd stringzilla torch_fidelity typing_extensions)
for name in "${wheels[@]}"; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "$(pin "$name")"
done
# antlr4 4.9.3 (omegaconf's parser runtime) is published as an sdist only: build its pure wheel here.
"$PY" -m pip wheel -q --no-deps -w .whl "$(pin antlr4-python3-runtime)"

# Every requirement of every wheel must be another wheel here or in the device image (names from
# KINDS.md's package list, 2026-11-17). A missing one would fail the device call at import time.
"$PY" - <<'PY'
import re
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

DEVICE = set(
    "absl-py accelerate certifi charset-normalizer click cloudpickle filelock fsspec idna imageio "
    "jinja2 joblib lazy-loader lightning lightning-utilities markupsafe matplotlib networkx numpy "
    "opencv-python-headless packaging pandas pillow pip protobuf psutil pytest pytorch-lightning "
    "pyyaml requests scikit-image scikit-learn scipy setuptools six sympy tensorboard tifffile "
    "torch torchmetrics torchvision tqdm triton urllib3 wheel".split()
)


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


present = {}
for wheel in sorted(Path(".whl").glob("*.whl")):
    name = norm(wheel.name.split("-")[0])
    if name in present:
        sys.exit(f"two wheels of {name} in .whl ({present[name]}, {wheel.name}): keep one")
    present[name] = wheel.name
# The device's interpreter: CPython 3.12 on x86-64 Linux.
target = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython",
          "extra": ""}
missing = []
for name, wheel in present.items():
    with zipfile.ZipFile(Path(".whl") / wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(meta).decode().splitlines()
    for line in lines:
        if not line.startswith("Requires-Dist:"):
            continue
        requirement = Requirement(line.removeprefix("Requires-Dist:").strip())
        if requirement.marker is not None and not requirement.marker.evaluate(target):
            continue  # an extra, or a backport for another Python
        required = norm(requirement.name)
        if required not in present and required not in DEVICE:
            missing.append(f"{wheel} needs {requirement}")
if missing:
    sys.exit("missing on the device and in .whl:\n  " + "\n  ".join(missing))
print(f".whl: {len(present)} wheels, every requirement met (wheel or device image)")
PY

src=../shared/data/selfie2anime/train
if [ -d "$src/photo" ] && [ -d "$src/anime" ]; then
  rm -rf .devdata/selfie2anime
  for domain in photo anime; do
    mkdir -p ".devdata/selfie2anime/train/$domain"
    find "$src/$domain" -maxdepth 1 -type f | sort | head -n "$count" \
      | xargs -d '\n' cp -t ".devdata/selfie2anime/train/$domain"
  done
else
  echo "device_wheels.sh: $src (photo/, anime/) is absent; .devdata not made" >&2
fi
du -sh .whl .devdata 2>/dev/null || true

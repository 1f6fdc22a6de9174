# Faces: alignment of a photo folder into a face dataset. Needs the offline detector extra
# (pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0) or an insightface pack.
FACES_IN ?= data/faces_raw
FACES_OUT ?= data/faces_aligned
FACES_SIZE ?= 256

.PHONY: align-faces test-faces

align-faces: $(STAMP)  ## align+crop faces: make align-faces FACES_IN=... FACES_OUT=... ARGS="--portrait"
	$(PY) -m animegan.cli.align_faces $(FACES_IN) $(FACES_OUT) --size $(FACES_SIZE) $(ARGS)

test-faces: $(STAMP)  ## face alignment / ArcFace / identity loss / detector tests
	$(PY) -m pytest -q tests/unit/faces/test_alignment.py tests/unit/models/test_arcface.py tests/unit/losses/test_identity_loss.py tests/unit/faces/test_detection.py tests/integration/test_align_cli.py $(ARGS)

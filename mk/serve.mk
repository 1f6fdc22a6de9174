# Web app and video benchmark: make demo, make bench-video.
WEIGHTS_DIR ?=
HOST ?= 127.0.0.1
PORT ?= 7860

.PHONY: demo bench-video

demo: $(STAMP)  ## local web app (Gradio) on http://127.0.0.1:7860: make demo [WEIGHTS=paprika|file] [WEIGHTS_DIR=dir] [ARGS="--host 0.0.0.0"]
	$(PY) -m animegan.cli.serve --host "$(HOST)" --port "$(PORT)" $(if $(WEIGHTS),--weights "$(WEIGHTS)") $(if $(WEIGHTS_DIR),--weights-dir "$(WEIGHTS_DIR)") $(ARGS)

bench-video: $(STAMP)  ## video stability (warping error, per-pixel change) and 720p frames/s, ONNX fp32/INT8 -> benchmarks/results/video.json
	$(PY) benchmarks/bench_video.py $(ARGS)

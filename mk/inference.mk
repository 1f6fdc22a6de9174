# Inference and deployment verbs: stylize, ONNX/INT8/.pt export, CPU latency benchmark.
WEIGHTS ?= $(CKPT)
INPUT ?=
OUT ?= outputs/stylized
ONNX ?= outputs/export/generator.onnx
CALIB ?=

.PHONY: stylize export bench-infer

stylize: $(STAMP)  ## stylize photos of any size and videos: make stylize WEIGHTS=paprika INPUT="photos/ a.jpg clip.mp4" [OUT=outputs/stylized] [ARGS="--strength 0.8 --backend onnx"]
	@test -n "$(WEIGHTS)" -a -n "$(INPUT)" || { echo "usage: make stylize WEIGHTS=<.pt|.ckpt|.onnx> INPUT='<files, folders or globs>' [OUT=dir] [ARGS=...]"; exit 2; }
	$(PY) -m animegan.cli.stylize $(INPUT) --weights "$(WEIGHTS)" --out "$(OUT)" $(ARGS)

export: $(STAMP)  ## ONNX export + parity check (+ INT8 with CALIB=photos/): make export WEIGHTS=last.ckpt [ONNX=out.onnx] [CALIB=dir] [ARGS="--to-pt"]
	@test -n "$(WEIGHTS)" || { echo "usage: make export WEIGHTS=<.ckpt|.pt> [ONNX=outputs/export/generator.onnx] [CALIB=<photo folder> for INT8] [ARGS=...]"; exit 2; }
	$(PY) -m animegan.cli.export --weights "$(WEIGHTS)" --out "$(ONNX)" $(if $(CALIB),--int8 --calib "$(CALIB)") $(ARGS)

bench-infer: $(STAMP)  ## CPU latency at 512² (eager vs ORT fp32 vs ORT INT8, peak memory, PSNR): make bench-infer CALIB=photos/ [ARGS="--threads 2"]
	$(PY) benchmarks/bench_inference.py $(if $(CALIB),--calib "$(CALIB)") $(ARGS)

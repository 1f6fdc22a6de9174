bench-train: $(STAMP)  ## training throughput: our step vs plain fp32 eager, lever ladder, MFU (GPU: ARGS="--precision bf16-mixed --channels-last --compile --fused --ladder --data DIR --workers 8")
	$(PY) benchmarks/bench_train.py $(ARGS)

bench-profile: $(STAMP)  ## one training step's time by kind of work (conv, depthwise, norm, activations, optimizer, launch gaps)
	$(PY) benchmarks/profile_step.py $(ARGS)

bench-numerics: $(STAMP)  ## perf=fast vs the spread of fp32 variants x seeds (loss curves on real images); exit 1 failed, 3 inconclusive
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) benchmarks/numerics_check.py $(ARGS)

bench-gpu-prepare: $(STAMP)  ## wheels (.whl/) and a selfie2anime subset (.devdata/) for the one device call (needs PyPI)
	PYTHON=$(PY) bash benchmarks/device_wheels.sh

bench-gpu-dry-run: $(STAMP)  ## the device script with every step shrunk, on CPU: proves it reaches every step (OUT=dir)
	DRY_RUN=1 BUDGET_S=$${BUDGET_S:-3000} PYTHON=$(PY) bash benchmarks/gpu_session.sh main
	DRY_RUN=1 BUDGET_S=$${BUDGET_S:-3000} PYTHON=$(PY) bash benchmarks/gpu_session.sh numerics

bench-ddp: $(STAMP)  ## DDP scaling on paper from the measured step time and the real gradient size
	$(PY) benchmarks/ddp_scaling.py $(ARGS)

bench-quickstart: $(STAMP)  ## time `make train` (quickstart) and score it: init-phase PSNR vs the photos, final PSNR vs photos and their cartoons -> benchmarks/results/quickstart.json
	$(PY) benchmarks/bench_quickstart.py $(ARGS)

bench-train: $(STAMP)  ## training throughput: our step vs plain fp32 eager, lever ladder, MFU (GPU: ARGS="--precision bf16-mixed --channels-last --compile --fused --ladder --data DIR --workers 8")
	$(PY) benchmarks/bench_train.py $(ARGS)

bench-profile: $(STAMP)  ## one training step's time by kind of work (conv, depthwise, norm, activations, optimizer, launch gaps)
	$(PY) benchmarks/profile_step.py $(ARGS)

bench-numerics: $(STAMP)  ## perf=fast vs fp32: 200-step loss curves on real images within a stated tolerance (exit 1 if not)
	$(PY) benchmarks/numerics_check.py $(ARGS)

bench-ddp: $(STAMP)  ## DDP scaling on paper from the measured step time and the real gradient size
	$(PY) benchmarks/ddp_scaling.py $(ARGS)

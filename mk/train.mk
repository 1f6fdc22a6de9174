bench-train: $(STAMP)  ## training throughput: our step vs plain fp32 eager (GPU: ARGS="--device cuda --precision bf16-mixed --channels-last --compile")
	$(PY) benchmarks/bench_train.py $(ARGS)

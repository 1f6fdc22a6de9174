# Evaluation verbs: FID/KID/LPIPS/identity reports and run comparisons.
CKPTS ?=
eval_comma := ,
eval_empty :=
eval_space := $(eval_empty) $(eval_empty)

.PHONY: eval compare bench-eval

eval: $(STAMP)  ## evaluate a checkpoint: make eval CKPT=outputs/<run>/checkpoints/last.ckpt [ARGS="photo_dir=... anime_dir=... metrics=tiny"]
	@test -n "$(CKPT)" || { echo "usage: make eval CKPT=<our .ckpt or an animegan2-pytorch .pt> [ARGS='photo_dir=... anime_dir=...']"; exit 2; }
	$(PY) -m animegan.cli.eval "ckpt='$(CKPT)'" $(ARGS)

compare: $(STAMP)  ## compare checkpoints side by side (one table, one grid): make compare CKPTS="a.ckpt b.ckpt" [ARGS=...]
	@test -n "$(strip $(CKPTS))" || { echo "usage: make compare CKPTS='a.ckpt b.ckpt ...' [ARGS=...]"; exit 2; }
	$(PY) -m animegan.cli.eval "ckpt=[$(subst $(eval_space),$(eval_comma),$(foreach c,$(strip $(CKPTS)),'$(c)'))]" $(ARGS)

bench-eval: $(STAMP)  ## evaluation throughput (stylize + all metrics, images/s) at 256² -> benchmarks/results/eval_<device>.json
	$(PY) benchmarks/bench_eval.py $(ARGS)

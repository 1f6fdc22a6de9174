# Structured channel pruning of a trained generator (experiments/pruning/).
WEIGHTS ?= $(CKPT)
PRUNE_RATIO ?= 0.4
PRUNE_OUT ?= outputs/pruned/generator_r$(PRUNE_RATIO).pt
PRUNE_PHOTOS ?=
PRUNE_STEPS ?= 100
PRUNE_RESULTS ?= experiments/pruning/results
SHARED_DATA ?= ../shared/data

.PHONY: prune prune-study

prune: $(STAMP)  ## prune a generator: make prune WEIGHTS=g.pt [PRUNE_RATIO=0.4] [PRUNE_OUT=out.pt] [PRUNE_PHOTOS=dir (fine-tune) PRUNE_STEPS=100] [ARGS=...]
	@test -n "$(WEIGHTS)" || { echo "usage: make prune WEIGHTS=<.pt|.ckpt> [PRUNE_RATIO=0.4] [PRUNE_OUT=outputs/pruned/g.pt] [PRUNE_PHOTOS=<photo folder> to fine-tune] [ARGS=...]"; exit 2; }
	$(PY) -m animegan.cli.prune --weights "$(WEIGHTS)" --ratio $(PRUNE_RATIO) --out "$(PRUNE_OUT)" $(if $(PRUNE_PHOTOS),--finetune-steps $(PRUNE_STEPS) --photos "$(PRUNE_PHOTOS)") $(ARGS)

prune-study: $(STAMP)  ## pruning table + plot (ratios 0.2/0.4/0.6, with and without fine-tune): make prune-study WEIGHTS=g.pt [SHARED_DATA=../shared/data]
	@test -n "$(WEIGHTS)" || { echo "usage: make prune-study WEIGHTS=<.pt|.ckpt> [SHARED_DATA=../shared/data] [ARGS=...]"; exit 2; }
	$(PY) experiments/pruning/run_pruning.py --weights "$(WEIGHTS)" --ratios 0.2 0.4 0.6 \
		--finetune-steps $(PRUNE_STEPS) --finetune-photos "$(SHARED_DATA)/selfie2anime/train/photo" \
		--faces "$(SHARED_DATA)/selfie2anime/test/photo" --scenes "$(SHARED_DATA)/scenes" \
		--out "$(PRUNE_RESULTS)" $(ARGS)

# Augmentation recipes and the augmentation ablation study (experiments/augmentation_ablation/).
# STUDY: augmentation_ablation (tiny CPU budget, embedded data) | augmentation_ablation_gpu (real budget).
STUDY ?= augmentation_ablation
# Sweep folder to aggregate; default: the newest one of the study.
SWEEP ?= $(shell ls -dt multirun/$(STUDY)/*/ 2>/dev/null | head -n 1)
ABLATION_RESULTS ?= experiments/augmentation_ablation/results

.PHONY: sweep aggregate bench-data

sweep: $(STAMP)  ## augmentation study as a Hydra multirun, then aggregate (STUDY=augmentation_ablation_gpu: real budget; ARGS="hydra/launcher=joblib ...")
	$(PY) -m animegan.cli.train -m experiment=$(STUDY) $(ARGS)
	@$(MAKE) --no-print-directory aggregate STUDY=$(STUDY) SWEEP=

aggregate: $(STAMP)  ## comparison table (CSV, Markdown) + error-bar plot of a sweep: make aggregate [SWEEP=multirun/<study>/<time>]
	@sweep="$(SWEEP)"; [ -n "$$sweep" ] || sweep=$$(ls -dt multirun/$(STUDY)/*/ 2>/dev/null | head -n 1); \
	[ -n "$$sweep" ] || { echo "error: no sweep under multirun/$(STUDY)/: run 'make sweep' or pass SWEEP=<folder>"; exit 2; }; \
	sweep=$${sweep%/}; \
	$(PY) -m animegan.experiments.ablation aggregate "$$sweep" && \
	$(PY) -m animegan.experiments.ablation aggregate "$$sweep" --out "$(ABLATION_RESULTS)/$$(basename $$(dirname $$sweep))/$$(basename $$sweep)" >/dev/null

bench-data: $(STAMP)  ## data pipeline: decode+augmentation img/s per core per recipe at 256², loader samples/s per worker count -> benchmarks/results/data.json
	$(PY) benchmarks/bench_data.py $(ARGS)

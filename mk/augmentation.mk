# Ablation studies (experiments/<study>/): augmentation recipes and generator architecture.
# STUDY: augmentation_ablation (tiny CPU budget, embedded data) | augmentation_ablation_gpu (real budget)
#      | architecture_ablation | architecture_ablation_gpu (attention x schedule, same budgets).
STUDY ?= augmentation_ablation
# Sweep folder to aggregate; default: the newest one of the study.
SWEEP ?= $(shell ls -dt multirun/$(STUDY)/*/ 2>/dev/null | head -n 1)
# Reports are copied into the study's folder (a _gpu study shares its tiny study's folder).
ABLATION_RESULTS ?= experiments/$(patsubst %_gpu,%,$(STUDY))/results

.PHONY: sweep aggregate bench-data

sweep: $(STAMP)  ## ablation study (STUDY=augmentation_ablation|architecture_ablation[_gpu]) as a Hydra multirun, then aggregate (STUDY=augmentation_ablation_gpu: real budget; ARGS="hydra/launcher=joblib ...")
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

# Vigil: `make demo` and `make test` do all set-up on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-durations test-fast lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

PACKAGES := suite pipeline workers evaluators drift storage flows cli reports mirror bench

# Vigil's own bytecode, written ahead: where PYTHONDONTWRITEBYTECODE is set, every `vigil` process (and Ray
# worker) would otherwise compile the modules it imports (~0.3 s of CPU per start on the 2-core machine).
install: $(STAMP)
	$(BIN)/python -m compileall -q $(PACKAGES) > /dev/null

# Both examples run (exit 1, a failed gate, is a result, not an error), the digits stream is watched in daily windows
# (the card's sensitivity to drift), and the model cards are written from what was stored.
demo: install
	$(BIN)/python examples/digits/train.py
	$(BIN)/vigil run examples/digits/suite.yaml; status=$$?; [ $$status -le 1 ] || exit $$status
	$(BIN)/python examples/breast_cancer/train.py
	$(BIN)/vigil run examples/breast_cancer/suite.yaml; status=$$?; [ $$status -le 1 ] || exit $$status
	$(BIN)/vigil drift --suite examples/digits/suite.yaml
	$(BIN)/vigil card cnn --suite examples/digits/suite.yaml -o examples/digits/MODEL_CARD.md
	$(BIN)/vigil card boosting --suite examples/breast_cancer/suite.yaml -o examples/breast_cancer/MODEL_CARD.md
	$(BIN)/vigil runs --limit 5

# JOBS=2 (default; JOBS= for one process): two pytest-xdist workers, each with its own Prefect server and Ray; a file stays on one worker,
# so module fixtures start once; files are dealt longest first (tests/durations.py), so no long file is left to the end.
JOBS ?= 2
XDIST = $(if $(JOBS),-n $(JOBS) --dist loadfile --no-loadscope-reorder)

test: install
	$(BIN)/python examples/digits/train.py --quiet
	$(BIN)/python -m pytest -q $(XDIST)

# Refresh tests/durations.json (each test file's seconds, the order `make test` deals files in) from a full run.
test-durations: install
	$(BIN)/python examples/digits/train.py --quiet
	$(BIN)/python -m pytest -q $(XDIST) --record-durations

# The inner loop: no Prefect server, no Ray, no Postgres, no Chromium, no `vigil` subprocess (tests marked `slow` are left out).
test-fast: install
	$(BIN)/python examples/digits/train.py --quiet
	$(BIN)/python -m pytest -q -m "not slow" $(XDIST)

lint: install
	$(BIN)/python -m compileall -q suite pipeline workers evaluators drift storage flows cli reports mirror

bench: install
	$(BIN)/python bench/inference.py
	$(BIN)/python bench/perturb.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/mirror.py
	$(BIN)/python bench/detection.py
	$(BIN)/python bench/suite_limits.py
	$(BIN)/python bench/detection_estimation.py
	$(BIN)/python bench/shadow_stream.py
	$(BIN)/python bench/intervals.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/driver_memory.py
	$(BIN)/python bench/chunked_scoring.py --rows 5000000
	$(BIN)/python bench/scale.py --quick

clean:
	rm -rf .vigil test-artifacts

# ssdkit: `make install` creates .venv with the pinned versions; `make test` runs the fast suite, `make test-all`
# every test (what CI runs).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: install install-demo lint test test-all bench demo clean

install: $(STAMP)

# everything: the demo's packages, deployment runtimes, timm, tensorboard, the test and lint tools
$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

# only what `make demo` runs: ssdkit and the packages that ship the demo's digits and photographs
install-demo: $(DEMO_STAMP)

$(DEMO_STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[demo]"
	touch $(DEMO_STAMP)

# static checks (config in pyproject.toml): ruff lint and format everywhere, mypy on ssdkit/
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# the fast suite (a few minutes); test-all adds the tests marked slow (trainings, subprocess and DDP runs, exports)
test: install
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/core.py
	$(PY) bench/data.py

DEMO_CFG := configs/demo/ssdlite224_mobilenet_demo.py
DEMO_DIR := work_dirs/demo
DEMO_SEED := 0

# The main job on a fresh machine: build the demo set, train on CPU, evaluate, draw val detections.
demo: install-demo
	@mkdir -p $(DEMO_DIR) && date +%s > $(DEMO_DIR)/.started
	$(PY) tools/make_demo_dataset.py --config $(DEMO_CFG)
	$(PY) tools/train.py $(DEMO_CFG) --work-dir $(DEMO_DIR) --seed $(DEMO_SEED)
	$(PY) tools/test.py $(DEMO_CFG) $$(cat $(DEMO_DIR)/last_checkpoint) --work-dir $(DEMO_DIR) \
		--show-dir $(DEMO_DIR)/val_detections --out $(DEMO_DIR)/val_detections.json | tee $(DEMO_DIR)/test_result.txt
	@echo "demo: $$(( $$(date +%s) - $$(cat $(DEMO_DIR)/.started) )) s after the install;" \
		"checkpoint $$(cat $(DEMO_DIR)/last_checkpoint); detections drawn in $(DEMO_DIR)/val_detections/"
	@grep '^test:' $(DEMO_DIR)/test_result.txt
	@$(PY) -c "from ssdkit.utils.cpu import describe_cpu; print('demo ran on', describe_cpu())"

clean:
	rm -rf $(VENV) build *.egg-info

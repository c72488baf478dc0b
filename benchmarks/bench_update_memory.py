"""Peak memory of one policy update, LM head chunked (`train.logit_chunk_tokens`) vs unchunked, on the CPU.

    python benchmarks/bench_update_memory.py [--tokens 2048] [--micro 4] [--vocab 151936] [--chunk 1024]

One micro-batch (`--micro` sequences of 16 prompt + `--tokens` completion tokens) through the real Policy
(DeepSpeed ZeRO-0, fp32, SGD): `_micro_loss` (forward, log-softmax, entropy, PG loss), `engine.backward`,
`engine.step`, on a random Qwen2-shaped model with Qwen2.5's vocabulary (151,936, tied embedding) and a small
hidden size (64, 2 layers), so that the LM head's [tokens, vocab] block dominates, as it does on GPUs.

Variants, each in a fresh subprocess (so neither inherits the other's allocator state):
  chunked    train.logit_chunk_tokens=--chunk
  unchunked  train.logit_chunk_tokens=0: the head runs on all tokens at once, one [tokens, vocab] fp32 block (what
             the trainer held before the chunking, which also kept the logits' gradient: lower bound of it)
Peak memory: Linux VmHWM reset through /proc/self/clear_refs just before the update, minus VmRSS then
(`peak_increase_bytes`). `ratio` = chunked / unchunked. `grads_equal`: the loss and every parameter gradient of the
two variants agree to `--rtol` relative (max |a - b| / max |b| per tensor). The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_model(out: Path, vocab: int, hidden: int = 64, layers: int = 2) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=1, num_key_value_heads=1, tie_word_embeddings=True,
                      max_position_embeddings=8192)
    torch.manual_seed(0)
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    return out


def run_variant(model_dir: str, chunk: int, tokens: int, micro: int, out: str) -> None:
    """Child process: one micro-batch update; writes {loss, grads, peak_increase_bytes, seconds} to `out`."""
    import torch

    sys.path.insert(0, str(ROOT))
    from bench_weight_sync import measure_peak

    from r1zero import dist
    from r1zero.batching import make_batch
    from r1zero.config import load_config
    from r1zero.policy import Policy
    from r1zero.rollout.base import Rollout

    torch.set_num_threads(1)
    dist.init()
    cfg = load_config(None, [f"model.name={model_dir}", "optim.name=sgd", "optim.lr=1e-3", "optim.grad_clip=0",
                             f"train.micro_batch_size={micro}", "train.prompts_per_step=1",
                             f"rollout.group_size={micro}", f"rollout.max_new_tokens={tokens}",
                             f"train.logit_chunk_tokens={chunk}", "data.max_prompt_tokens=16"])
    policy = Policy(cfg, model_dir)
    g = torch.Generator().manual_seed(1)
    vocab = policy.module.config.vocab_size
    rolls = [Rollout(i, torch.randint(0, vocab, (16,), generator=g).tolist(),
                     torch.randint(0, vocab, (tokens,), generator=g).tolist(), "", "length", None)
             for i in range(micro)]
    batch = make_batch(rolls, torch.randn(micro, generator=g), pad_id=0)
    norm = float(batch.loss_mask.sum())
    result = {}

    def update():
        loss, _ = policy._micro_loss(batch, norm)
        policy.engine.backward(loss, scale_wrt_gas=False)
        result["loss"] = float(loss)
        result["grads"] = {n: p.grad.detach().clone() for n, p in policy.module.named_parameters()}
        policy.engine.step()

    seconds, peak = measure_peak(update)
    torch.save({**result, "peak_increase_bytes": peak, "seconds": seconds}, out)
    dist.shutdown()


def _child(model_dir: str, chunk: int, args, out: Path) -> dict:
    import torch

    env_cmd = [sys.executable, __file__, "--child", model_dir, str(chunk), str(args.tokens), str(args.micro),
               str(out)]
    proc = subprocess.run(env_cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"variant chunk={chunk} failed:\n{proc.stderr[-4000:]}")
    return torch.load(out, weights_only=False)


def _mem_available() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))


def rel_diff(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=2048, help="completion tokens per sequence")
    ap.add_argument("--micro", type=int, default=4, help="sequences in the micro-batch")
    ap.add_argument("--vocab", type=int, default=151936)
    ap.add_argument("--chunk", type=int, default=1024, help="train.logit_chunk_tokens of the chunked variant")
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        model_dir, chunk, tokens, micro, out = args.child
        run_variant(model_dir, int(chunk), int(tokens), int(micro), out)
        return
    need = 2.5 * args.micro * args.tokens * args.vocab * 4  # the unchunked variant: ~2 [tokens, vocab] fp32 blocks
    if _mem_available() < need:
        sys.exit(f"bench_update_memory: the unchunked variant needs ~{need / 2 ** 30:.1f} GiB and only "
                 f"{_mem_available() / 2 ** 30:.1f} GiB is available now: retry when the machine is quieter, or "
                 f"pass a smaller --tokens")
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = str(build_model(Path(tmp) / "model", args.vocab))
        chunked = _child(model_dir, args.chunk, args, Path(tmp) / "chunked.pt")
        unchunked = _child(model_dir, 0, args, Path(tmp) / "unchunked.pt")
    diffs = {n: rel_diff(chunked["grads"][n], unchunked["grads"][n]) for n in unchunked["grads"]}
    loss_diff = abs(chunked["loss"] - unchunked["loss"]) / max(abs(unchunked["loss"]), 1e-30)
    n_tok = args.micro * args.tokens
    row = {"tokens": n_tok, "vocab": args.vocab, "chunk_tokens": args.chunk,
           "full_block_fp32_bytes": n_tok * args.vocab * 4,
           "chunked_peak_increase_bytes": chunked["peak_increase_bytes"],
           "unchunked_peak_increase_bytes": unchunked["peak_increase_bytes"],
           "ratio": round(chunked["peak_increase_bytes"] / max(unchunked["peak_increase_bytes"], 1), 4),
           "loss_rel_diff": loss_diff, "grad_max_rel_diff": max(diffs.values()),
           "grads_equal": loss_diff <= args.rtol and max(diffs.values()) <= args.rtol,
           "chunked_s": round(chunked["seconds"], 2), "unchunked_s": round(unchunked["seconds"], 2),
           "wall_s": round(time.time() - t0, 1)}
    print(f"peak increase: chunked {row['chunked_peak_increase_bytes'] / 2 ** 30:.2f} GiB, unchunked "
          f"{row['unchunked_peak_increase_bytes'] / 2 ** 30:.2f} GiB (one [tokens, vocab] fp32 block: "
          f"{row['full_block_fp32_bytes'] / 2 ** 30:.2f} GiB)", file=sys.stderr)
    print(json.dumps(row))


if __name__ == "__main__":
    main()

"""Trainer -> vLLM weight sync: seconds per full sync, peak extra memory, next to a plain in-memory copy.

    python benchmarks/bench_weight_sync.py [--model smollm2-135m] [--bucket-mib 128] [--repeats 3]
    python benchmarks/bench_weight_sync.py --engine server [--model smollm2-135m] [--repeats 1]

`--engine server`: one `vllm serve` rollout server on loopback (the launcher's command, CPU: the r1zero_tcp
transport), and one sync is `ServerEngine.load_weights(...)`: pause, start, the buckets' metadata over the RL
router and their bytes over the TCP connection, the server staging them and loading them at finish, resume,
version check. `copy_s` is then a plain copy of the same bytes (the tensors in the server's dtype, as they go over
the wire) into preallocated tensors; `ratio` = sync_s / copy_s. Peak memory is not measured there (the server is
another process). The logprob check is the same.

The trainer side is a transformers model in memory (fp32, as the CPU trainer holds it); one sync is
`VLLMEngine.load_weights(model.named_parameters())`: every weight, in buckets, into the running engine
(dtype cast, qkv/gate_up stacking, CPU weight re-packing, tied lm_head, prefix-cache reset included).
`copy_s` is a plain `copy_` of the same tensors into preallocated tensors of the same shape and dtype (the
bytes the trainer hands over); `copy_cast_s` the same into tensors of the engine's dtype.
`peak_extra_bytes` is the process's peak resident memory during the sync minus its resident memory
before (Linux VmHWM, reset through /proc/self/clear_refs). The sync is then checked: the engine's logprobs
of a greedy completion against the transformers model's (`logprob_diff_*`: bf16 vs fp32 noise only).
The last line is JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_peak(fn) -> tuple[float, int]:
    """(seconds, peak resident bytes above the starting resident size) of `fn()`."""
    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    return seconds, max(0, _status_kib("VmHWM") - before) * 1024


def plain_copy_seconds(tensors, dtype=None, repeats: int = 3) -> float:
    import torch

    dst = [torch.empty(t.shape, dtype=dtype or t.dtype) for t in tensors]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for d, s in zip(dst, tensors):
            d.copy_(s)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def probe_diff(engine, trainer, tok):
    """|engine - trainer| logprobs of the engine's greedy answer to one chat prompt (the check after a sync)."""
    import torch

    from r1zero.rollout.base import SamplingParams
    from r1zero.rollout.sync import Probe, logprob_diff

    prompt = tok.encode(tok.apply_chat_template([{"role": "user", "content": "What is 17 + 25?"}],
                                                add_generation_prompt=True, tokenize=False), add_special_tokens=False)
    probe = Probe.from_rollouts(engine.generate([prompt], 1, SamplingParams(max_new_tokens=64, greedy=True)), 1)
    with torch.no_grad():
        ids = torch.tensor([probe.prompt_ids[0] + probe.completion_ids[0]])
        logp = torch.log_softmax(trainer(ids).logits[0].float(), -1)
        n0 = len(probe.prompt_ids[0])
        ref = [[logp[n0 + j - 1, t].item() for j, t in enumerate(probe.completion_ids[0])]]
    return logprob_diff(engine.prompt_logprobs(probe.prompt_ids, probe.completion_ids), ref)


def server_sync(args, path: str, trainer) -> dict:
    """The `--engine server` measurement (see the module docstring)."""
    import secrets
    import tempfile
    from pathlib import Path

    import torch
    from transformers import AutoTokenizer

    from r1zero.rollout.local_servers import LocalServers, plugin_site
    from r1zero.rollout.server import ServerEngine

    key = secrets.token_hex(16)
    tmp = Path(tempfile.mkdtemp(prefix="bench_sync_"))
    with LocalServers(path, 1, api_key=key, log_dir=tmp, site=plugin_site(tmp / "site"), max_model_len=1024) as srv:
        engine = ServerEngine(srv.urls, key, bucket_bytes=int(args.bucket_mib * 2 ** 20))
        engine.load_weights(trainer.named_parameters(), version=0)  # warm-up (connection, allocator, code paths)
        runs = []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            engine.load_weights(trainer.named_parameters(), version=i + 1)
            runs.append(time.perf_counter() - t0)
        wire = [p.detach().to(engine.dtype) for p in trainer.parameters()]  # the bytes the sync sends
        copy_s = plain_copy_seconds(wire, repeats=max(3, args.repeats))
        diff = probe_diff(engine, trainer, AutoTokenizer.from_pretrained(path))
        versions = engine.versions()
        engine.close()
    sync_s = statistics.median(runs)
    wire_bytes = sum(t.numel() * t.element_size() for t in wire)
    return {"model": args.model, "engine": "server", "transport": engine.backend, "tensors": len(wire),
            "wire_bytes": wire_bytes, "engine_dtype": str(engine.dtype).removeprefix("torch."),
            "sync_s": round(sync_s, 4), "sync_s_runs": [round(s, 4) for s in runs], "copy_s": round(copy_s, 4),
            "ratio": round(sync_s / copy_s, 2), "wire_gb_per_s": round(wire_bytes / sync_s / 1e9, 3),
            "bucket_bytes": int(args.bucket_mib * 2 ** 20), "weight_versions": sorted(set(versions.values())),
            "logprob_diff_mean": round(diff.mean().item(), 5), "logprob_diff_max": round(diff.max().item(), 5),
            "torch_threads": torch.get_num_threads()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--bucket-mib", type=float, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the copy is memory-bound; on a shared "
                    "2-core machine 2 threads make both numbers erratic)")
    ap.add_argument("--pack-cpu-weights", action="store_true", help="vLLM-CPU packed weights: layerwise reload path")
    ap.add_argument("--engine", choices=["vllm", "server"], default="vllm",
                    help="vllm: the in-process engine; server: a vllm serve rollout server on loopback")
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM

    from r1zero.config import RolloutConfig
    from r1zero.models import resolve_model
    from r1zero.rollout.vllm import VLLMEngine

    path = resolve_model(args.model)
    bucket_bytes = int(args.bucket_mib * 2 ** 20)
    trainer = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    with torch.no_grad():  # a "training step": the sync must carry new values (the engine loads the old ones)
        for p in trainer.parameters():
            p.mul_(1.001)
    if args.engine == "server":
        print(json.dumps(server_sync(args, path, trainer)))
        return
    engine = VLLMEngine(path, RolloutConfig(cpu_kvcache_gib=1), seed=0, max_model_len=1024, bucket_bytes=bucket_bytes,
                        pack_cpu_weights=args.pack_cpu_weights)
    tensors = [p.detach() for _, p in trainer.named_parameters()]
    engine.load_weights(trainer.named_parameters())  # warm-up (allocator, code paths)

    runs = [measure_peak(lambda: engine.load_weights(trainer.named_parameters())) for _ in range(args.repeats)]
    sync_s = statistics.median(s for s, _ in runs)
    peak = max(b for _, b in runs)
    copy_s = plain_copy_seconds(tensors, repeats=args.repeats)
    cast_s = plain_copy_seconds(tensors, dtype=torch.bfloat16, repeats=args.repeats)

    diff = probe_diff(engine, trainer, engine.tokenizer)

    model_bytes = sum(t.numel() * t.element_size() for t in tensors)
    result = {
        "model": args.model, "path": "layerwise" if engine.layerwise else "direct",
        "transfer": "stream" if engine.in_process else "buckets", "tensors": len(tensors),
        "model_bytes": model_bytes, "engine_dtype": "bfloat16",
        "sync_s": round(sync_s, 4), "sync_s_runs": [round(s, 4) for s, _ in runs],
        "copy_s": round(copy_s, 4), "copy_cast_s": round(cast_s, 4), "ratio": round(sync_s / copy_s, 2),
        "ratio_vs_cast": round(sync_s / cast_s, 2), "peak_extra_bytes": peak, "bucket_bytes": bucket_bytes,
        "peak_extra_buckets": round(peak / bucket_bytes, 2),
        "logprob_diff_mean": round(diff.mean().item(), 5), "logprob_diff_max": round(diff.max().item(), 5),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

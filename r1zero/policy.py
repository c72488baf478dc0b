"""The policy: a DeepSpeed ZeRO engine around a transformers causal LM. With `dist.py` (which starts DeepSpeed's
process group) the only module that imports deepspeed.

    policy = Policy(cfg, model_path, world_size, rank)
    lp     = policy.logprobs(batch)                  # [N, T-1] no grad, micro-batched
    stats  = policy.update(batch)                    # mu epochs x minibatches x micro-batches, one ZeRO step each
    for name, tensor in policy.named_parameters_for_sync(bucket_bytes): ...   # full tensors, bounded buckets

Exact gradient accumulation: each micro-batch loss is divided by the *global* normaliser of its optimizer step
(`losses.aggregation_norm`, summed over ranks), so micro-batch losses add up to the full-batch loss. DeepSpeed
would divide by gradient_accumulation_steps (we pass `scale_wrt_gas=False`) and average gradients over ranks (we
multiply by world_size): micro-batch 1 x accumulation 8 == micro-batch 8 x 1, and 2 ranks == 1 rank.

Devices: batches arrive on the CPU (`batching.make_batch`); each micro-batch is moved to `policy.device` (the
rank's GPU, or the CPU) just before its forward, and every logprob, loss and statistic is built there. The LM head
runs only on the positions that predict completion tokens, `train.logit_chunk_tokens` at a time, inside the
model's own forward (`logprobs.head_logprobs`, see `_token_logprobs`), so no [tokens, vocab] block is kept.

Non-finite steps: an optimizer step with a NaN/inf loss (any micro-batch, any rank) or gradient is not applied: the
client optimizer's own step (the one that moves the weights and Adam's moments on every ZeRO stage) is skipped, the
same decision on every rank. The loss is checked per micro-batch (a bad one backpropagates an exact zero); the
gradient under ZeRO-0 from its global norm here, under ZeRO 1-3 and bf16 by DeepSpeed, which skips on a non-finite
global norm itself (we see that its step did not run). `train/nonfinite` is the share of skipped optimizer steps.
After an applied step the weights are checked (`weights_finite`); `train/nonfinite_weights` = 1 makes the trainer
stop at once, before anything is saved. Checkpoints refuse non-finite weights too.
"""
from __future__ import annotations

import functools
import math
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch

from r1zero import logprobs, losses
from r1zero.batching import Batch
from r1zero.config import Config, deepspeed_config, grad_accumulation
from r1zero.dist import all_sum, all_true


def lr_lambda(cfg: Config):
    warm, total, kind = cfg.optim.warmup_steps, max(cfg.train.steps * cfg.algo.mu * cfg.train.minibatches, 1), \
        cfg.optim.schedule

    def f(step: int) -> float:  # step counts optimizer steps
        if warm and step < warm:
            return (step + 1) / warm
        frac = min(max(step - warm, 0) / max(total - warm, 1), 1.0)
        if kind == "linear":
            return 1.0 - frac
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * frac))
        return 1.0
    return f


class Policy:
    def __init__(self, cfg: Config, model_path: str, world_size: int = 1, rank: int = 0):
        import deepspeed
        from transformers import AutoModelForCausalLM
        from transformers.integrations import HfDeepSpeedConfig

        self.cfg, self.world_size, self.rank = cfg, world_size, rank
        self.ds_config = deepspeed_config(cfg, world_size)
        self.gas = grad_accumulation(cfg, world_size)
        # Under ZeRO-3, HfDeepSpeedConfig makes from_pretrained build the model already partitioned (and keeps
        # HF's weight init, unlike a bare deepspeed.zero.Init around a constructor). It must stay referenced.
        self._hf_ds = HfDeepSpeedConfig(self.ds_config) if cfg.train.zero_stage == 3 else None
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32,
                                                     attn_implementation=cfg.model.attn_implementation)
        model.config.use_cache = False
        if cfg.model.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        o = cfg.optim
        if o.name == "sgd":
            optimizer = torch.optim.SGD(model.parameters(), lr=o.lr, weight_decay=o.weight_decay)
        else:
            optimizer = torch.optim.AdamW(model.parameters(), lr=o.lr, betas=tuple(o.betas), eps=o.eps,
                                          weight_decay=o.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
        self.engine, self.optimizer, _, self.scheduler = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=self.ds_config)
        self.device = torch.device(self.engine.device)  # cuda:LOCAL_RANK, or cpu (params may be offloaded)
        self.ref = self._load_reference(model_path) if cfg.algo.beta > 0 else None  # no reference at beta = 0

    def _load_reference(self, model_path: str):
        import deepspeed
        from transformers import AutoModelForCausalLM

        ref = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32,
                                                   attn_implementation=self.cfg.model.attn_implementation)
        ref.requires_grad_(False)
        if self.cfg.train.zero_stage == 3:  # partitioned like the policy, no optimizer
            ref_cfg = {k: v for k, v in self.ds_config.items() if k != "zero_force_ds_cpu_optimizer"}
            ref, *_ = deepspeed.initialize(model=ref, config=ref_cfg)
        else:  # DeepSpeed placed the policy; the reference goes beside it, in the training dtype
            ref = ref.to(device=self.device, dtype=torch.bfloat16 if self.cfg.model.dtype == "bf16" else None)
        return ref.eval()

    @property
    def module(self) -> torch.nn.Module:
        """The underlying transformers model (what the hf engine generates with)."""
        return self.engine.module

    # ------------------------------------------------------------------------------------------ forward

    def _token_logprobs(self, model, mb: Batch, with_entropy: bool = False, temperature: float | None = None,
                        entropy_grad: bool = False):
        """[b, T-1] logprobs and (with_entropy) entropies on `self.device`, 0 outside `mb.loss_mask`, and their mean
        over its positions; the entropies carry a gradient only with `entropy_grad` (an entropy bonus in the loss).

        `mb` is a host (CPU) batch: the positions are found there (no device sync), the tensors moved once.
        The LM head and the softmax run only on the n positions that predict completion tokens (prompts and padding
        are most of a GRPO sequence), `train.logit_chunk_tokens` at a time (`logprobs.head_logprobs`)."""
        temp = temperature or self.cfg.rollout.temperature or 1.0
        rows, cols = (i.to(self.device) for i in mb.loss_mask.nonzero(as_tuple=True))  # [n], [n]
        dev = mb.to(self.device)
        targets = dev.input_ids[rows, cols + 1]  # [n]
        chunk = self.cfg.train.logit_chunk_tokens
        head = _lm_head(model)
        if head is not None:
            with _head_on_positions(head, rows, cols, targets, temp, chunk, with_entropy, entropy_grad) as entropy:
                # `.logits` is what the head's call returned, through its hooks (ZeRO-3 wraps it for the backward)
                picked = model(input_ids=dev.input_ids, attention_mask=dev.attn_mask, use_cache=False).logits  # [n]
            ent_tok = entropy[0] if with_entropy else None  # [n]
        else:  # logit scaling / soft-capping: the model's own logits, [n, V] at once
            logits = model(input_ids=dev.input_ids, attention_mask=dev.attn_mask, use_cache=False).logits
            logits = logits[rows, cols][:, None]  # [n, 1, V]
            picked = logprobs.gather_logprobs(logits, targets[:, None], temp, max(chunk, 1))[:, 0]  # [n]
            ent_in = logits if entropy_grad else logits.detach()
            ent_tok = logprobs.entropy_from_logits(ent_in, temp, max(chunk, 1))[:, 0] if with_entropy else None
        zeros = torch.zeros(mb.loss_mask.shape, dtype=torch.float32, device=self.device)  # [b, T-1]
        logp = zeros.index_put((rows, cols), picked.float())
        if not with_entropy:
            return logp, None, None
        ent = zeros.index_put((rows, cols), ent_tok.float())  # [b, T-1]
        mean_ent = ent_tok.float().mean() if len(rows) else torch.zeros((), device=self.device)  # over the [n]
        return logp, ent, mean_ent

    @torch.no_grad()
    def logprobs(self, batch: Batch, reference: bool = False, temperature: float | None = None) -> torch.Tensor:
        """[N, T-1] logprobs of `batch.input_ids` under the policy (or the reference model), no grad, on
        `self.device` (kept there as `batch.old_lp` / `batch.ref_lp`).
        `temperature` defaults to the sampling temperature (what the loss uses); 1.0 scores the raw model."""
        model = self.ref if reference else self.engine
        was = model.training
        model.eval()
        out = torch.zeros(batch.loss_mask.shape, dtype=torch.float32, device=self.device)
        size = self.cfg.train.micro_batch_size
        for start in range(0, len(batch), size):
            mb = batch.select(slice(start, start + size))
            lp, _, _ = self._token_logprobs(model, mb, temperature=temperature)
            out[start:start + size, :lp.shape[1]] = lp
        model.train(was)
        return out

    def token_logprobs(self, prompt_ids: list[list[int]], completion_ids: list[list[int]]) -> list[list[float]]:
        """Raw-model (temperature 1) logprob of each completion token: the trainer side of the weight-sync check."""
        from r1zero.batching import make_batch
        from r1zero.rollout.base import Rollout

        rolls = [Rollout(i, p, c, "", "stop", None) for i, (p, c) in enumerate(zip(prompt_ids, completion_ids))]
        batch = make_batch(rolls, torch.zeros(len(rolls)), pad_id=0)
        lp = self.logprobs(batch, temperature=1.0)
        return [lp[i, len(p) - 1:len(p) - 1 + len(c)].tolist()
                for i, (p, c) in enumerate(zip(prompt_ids, completion_ids))]

    # ------------------------------------------------------------------------------------------ update

    def update(self, batch: Batch) -> dict[str, float]:
        """mu epochs over `batch` (this rank's rows), `train.minibatches` optimizer steps per epoch."""
        cfg, a = self.cfg, self.cfg.algo
        self.engine.train()
        acc: dict[str, list[float]] = {}
        n_mini = cfg.train.minibatches
        rows_per_mini = len(batch) // n_mini
        for _ in range(a.mu):
            for m in range(n_mini):
                mini = batch.select(slice(m * rows_per_mini, (m + 1) * rows_per_mini))
                for k, v in self._optimizer_step(mini).items():
                    acc.setdefault(k, []).append(v)
        return {k: sum(v) / len(v) for k, v in acc.items()}

    def _optimizer_step(self, mini: Batch) -> dict[str, float]:
        a = self.cfg.algo
        norm = all_sum(losses.aggregation_norm(mini.loss_mask, a.loss_agg, self.cfg.rollout.max_new_tokens))
        # a loss that selects its completions (rft) with none selected anywhere: a zero gradient, and the step runs at
        # lr 0 (else Adam's momentum would still move the weights on a step that learned nothing)
        empty = losses.selection(a.loss) is not None and all_sum(float(mini.loss_mask.sum())) == 0
        scale = float(self.world_size)  # undo DeepSpeed's average over ranks (it also divides by gas: we disable it)
        stats: dict[str, list[torch.Tensor]] = {}
        bad, applied = False, True
        for mb in mini.micro_batches(self.cfg.train.micro_batch_size):
            loss, s = self._micro_loss(mb, norm)
            finite = all_true(bool(torch.isfinite(loss)))
            if not finite:
                bad = True
                loss = sum(p.sum() for p in self.engine.parameters() if p.requires_grad) * 0.0
            self.engine.backward(loss * scale, scale_wrt_gas=False)
            boundary = self.engine.is_gradient_accumulation_boundary()
            boundary_norm = self._grad_norm_stage0() if boundary else None
            skip = boundary and (bad or (boundary_norm is not None and not math.isfinite(boundary_norm)))
            with self._zero_lr(empty and boundary), self._client_step(skip) as stepped:
                self.engine.step()
            if boundary:
                applied = self._applied_everywhere(bool(stepped) and not skip)
            for k, v in s.items():
                stats.setdefault(k, []).append(v.detach().float())
        out = {k: float(torch.stack(v).mean()) for k, v in stats.items()}
        gn = boundary_norm if boundary_norm is not None else self.engine.get_global_grad_norm()
        if gn is not None:
            out["policy/grad_norm"] = float(gn)
        out["policy/lr"] = self.scheduler.get_last_lr()[0]
        out["train/nonfinite"] = float(not applied)
        out["train/nonfinite_weights"] = float(applied and not all_true(_finite(stepped)))
        return out

    @contextmanager
    def _client_step(self, skip: bool):
        """Around `engine.step()`: yields the list of tensors the client optimizer's step was given (empty when
        DeepSpeed did not call it: not at a boundary, or its own overflow check failed); with `skip` that call is a
        no-op, so neither the weights nor the optimizer's moments move. The client optimizer (ours: AdamW or SGD)
        is what ZeRO 0-3, BF16 and offload all call on their fp32 weights (this rank's shard under ZeRO)."""
        inner = self.engine.basic_optimizer
        own = inner.__dict__.get("step")
        real = inner.step
        stepped: list[torch.Tensor] = []

        @functools.wraps(real)  # keeps the marks torch's LR scheduler put on the step it wrapped
        def step(*args, **kwargs):
            stepped.extend(p for g in inner.param_groups for p in g["params"])  # ZeRO-3: one sub-group per call
            return None if skip else real(*args, **kwargs)

        inner.step = step
        try:
            yield stepped
        finally:
            if own is None:
                del inner.step
            else:
                inner.step = own

    def _applied_everywhere(self, applied: bool) -> bool:
        """The step's fate, checked to be the same on every rank (ZeRO shards: one rank stepping alone would
        leave the weights half updated)."""
        count = all_sum(float(applied))
        if count not in (0.0, float(self.world_size)):
            raise RuntimeError(f"the optimizer step ran on {count:.0f} of {self.world_size} ranks: the weights are "
                               "now inconsistent across ranks; resume from the last checkpoint")
        return count > 0

    def weights_finite(self) -> bool:
        """True when every weight on every rank is finite (checked before a checkpoint is written). Collective."""
        if self.cfg.train.zero_stage == 3:  # this rank's shard of each parameter
            return all_true(_finite([p.ds_tensor for p in self.engine.module.parameters()]))
        return all_true(_finite(list(self.engine.module.parameters())))

    def _micro_loss(self, mb: Batch, norm: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        a = self.cfg.algo
        bonus = a.entropy_coef > 0  # only then does the entropy carry a gradient (and cost the backward its term)
        logp, ent, mean_ent = self._token_logprobs(self.engine, mb, with_entropy=True, entropy_grad=bonus)
        mb = mb.to(self.device)
        old = mb.old_lp if mb.old_lp is not None else logp.detach()
        is_w, stats = None, {"policy/entropy": mean_ent.detach()}
        if mb.sampler_lp is not None and self.is_mode != "off":
            is_w, is_stats = losses.importance_weights(old, mb.sampler_lp, mb.loss_mask, self.is_mode, a.is_cap,
                                                       a.is_level)
            stats.update(is_stats)
        loss, loss_stats = losses.POLICY_LOSSES[a.loss](logp, old, mb, a, norm, is_w)  # the variant: losses.py
        stats.update(loss_stats)
        if bonus:  # maximise the entropy: no importance weight, as verl's entropy_coeff (a regulariser, not a sample)
            entropy = losses.aggregate(ent, mb.loss_mask, a.loss_agg, norm)
            loss = loss - a.entropy_coef * entropy
            stats["loss/entropy"] = entropy.detach()
        return loss, stats

    def _grad_norm_stage0(self) -> float | None:
        """Global gradient norm (before clipping) under ZeRO-0, where DeepSpeed does not report one."""
        if self.cfg.train.zero_stage != 0:
            return None
        sq = sum(float(p.grad.float().pow(2).sum()) for p in self.engine.module.parameters() if p.grad is not None)
        return all_sum(sq) ** 0.5

    @property
    def is_mode(self) -> str:
        mode = self.cfg.algo.is_correction
        if mode == "auto":
            from r1zero.rollout.factory import engine_class

            return engine_class(self.cfg.rollout.engine).default_is_mode
        return mode

    @contextmanager
    def _zero_lr(self, active: bool):
        if not active:
            yield
            return
        saved = [g["lr"] for g in self.optimizer.param_groups]
        for g in self.optimizer.param_groups:
            g["lr"] = 0.0
        try:
            yield
        finally:
            for g, lr in zip(self.optimizer.param_groups, saved):
                g["lr"] = lr

    # ------------------------------------------------------------------------------------------ weight sync

    def named_parameters_for_sync(self, bucket_bytes: int = 256 << 20) -> Iterator[tuple[str, torch.Tensor]]:
        """Full (unsharded) parameters with HF names. Under ZeRO-3 they are gathered bucket by bucket, so at most
        one bucket of gathered weights exists at a time; consume each tensor before asking for the next bucket.
        Collective under ZeRO-3: every rank must iterate it."""
        params = list(self.engine.module.named_parameters())
        if self.cfg.train.zero_stage != 3:
            for name, p in params:
                yield name, p.detach()
            return
        import deepspeed

        bucket: list[tuple[str, torch.nn.Parameter]] = []
        size = 0
        for name, p in params + [("", None)]:
            if p is not None:
                bucket.append((name, p))
                size += p.ds_numel * p.element_size()
            if bucket and (p is None or size >= bucket_bytes):
                with deepspeed.zero.GatheredParameters([q for _, q in bucket], modifier_rank=None):
                    for n, q in bucket:
                        yield n, q.detach()
                bucket, size = [], 0

    # ------------------------------------------------------------------------------------------ state on disk

    @property
    def zero_stage(self) -> int:
        return self.cfg.train.zero_stage

    def save_state(self, tag_dir) -> None:
        """Model, optimizer and LR scheduler into `tag_dir` (one shard per rank under ZeRO). Collective."""
        self.engine.save_checkpoint(str(tag_dir.parent), tag=tag_dir.name, client_state={}, save_latest=False)

    def load_state(self, tag_dir) -> bool:
        """Restore what `save_state` wrote; False when DeepSpeed found nothing there. Collective."""
        load_dir, _ = self.engine.load_checkpoint(str(tag_dir.parent), tag=tag_dir.name, load_optimizer_states=True,
                                                  load_lr_scheduler_states=True)
        return load_dir is not None

    def save_pretrained(self, out_dir) -> None:
        """The current weights as a Hugging Face model directory, written by rank 0. Collective under ZeRO-3, whose
        shards are gathered for it."""
        gathered = nullcontext()
        if self.zero_stage == 3:
            import deepspeed

            gathered = deepspeed.zero.GatheredParameters(list(self.engine.module.parameters()), modifier_rank=None)
        with gathered:
            if self.rank == 0:
                self.module.save_pretrained(str(out_dir), safe_serialization=True)


def _finite(tensors: list[torch.Tensor]) -> bool:
    """Every element finite; chunked, so a large ZeRO shard needs no full-size boolean temporary."""
    return all(bool(torch.isfinite(chunk).all()) for t in tensors for chunk in t.detach().reshape(-1).split(1 << 24))


def _lm_head(model):
    """The LM head module of a causal LM (or of the DeepSpeed engine around one), or None when the model's logits
    are more than `lm_head(last_hidden_state)` (logit scaling or soft-capping): then the caller uses its logits."""
    m = getattr(model, "module", model)
    cfg = getattr(m, "config", None)
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None) not in (None, 1.0):
        return None
    return m.get_output_embeddings() if hasattr(m, "get_output_embeddings") else None


@contextmanager
def _head_on_positions(head, rows, cols, targets, temperature: float, chunk: int, with_entropy: bool,
                       entropy_grad: bool = False):
    """While active, the model's call of `head(hidden [b, T, d])` returns the chunked logprobs [n] of `targets` at
    positions (rows, cols) instead of [b, T, V] logits (the model's output `.logits`); the list it yields receives
    their entropies [n] (with_entropy; with a gradient with entropy_grad).

    Why inside the head's own call rather than `head.weight` after the body: ZeRO-3 gathers a module's weights in
    its forward hooks only, and re-gathers them for the backward through hooks on that call's outputs. Calling the
    body and the head as separate modules (or using the weight outside its module) gave wrong gradients under
    ZeRO-3; the model's full forward with the head computing `logprobs.head_logprobs` is one path for ZeRO 0-3."""
    entropy: list = []

    def forward(hidden):  # [b, T, d]: the model passes every position (logits_to_keep=0)
        logp, ent = logprobs.head_logprobs(hidden[rows, cols], head.weight, head.bias, targets, temperature, chunk,
                                           with_entropy, entropy_grad)  # [n, d] -> [n], [n]
        entropy.append(ent)
        return logp

    head.forward = forward  # an instance attribute shadows the class's forward; hooks (ZeRO-3's) still run
    try:
        yield entropy
    finally:
        del head.forward

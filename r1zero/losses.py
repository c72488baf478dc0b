"""Token log-probabilities, the clipped policy-gradient loss, KL estimators, sampler->trainer importance weights, and
the one aggregation they all share. Pure torch functions, shapes in comments.

Shapes: b sequences in a micro-batch, T positions, V vocabulary. Every per-token tensor [b, T] lines up with a
`mask` [b, T] (bool, or 0/1) that is True where a completion token counts in the loss. Values at masked positions
(padding, prompt) may be anything finite; they are selected away with `torch.where`, never multiplied by 0.

Exact micro-batching. The loss of a global batch (all micro-batches of one optimizer step, on all ranks) is a SUM
over its sequences divided by one number, `norm`, computed once for the global batch (`aggregation_norm`):

    loss_agg     per-token loss x  ->  loss                                 norm
    token_mean   sum_i sum_t x_it / norm                    (DAPO)          valid tokens in the global batch
    seq_mean     sum_i (sum_t x_it / n_i) / norm            (GRPO)          sequences with >= 1 valid token
    constant     sum_i sum_t x_it / norm                    (Dr. GRPO)      sequences * max_new_tokens

Each micro-batch calls `aggregate(x, mask, loss_agg, norm)` with the same global `norm`, so the SUM of the
micro-batch losses (and of their gradients) equals the full-batch loss exactly. Gradient accumulation must therefore
add micro-batch gradients without averaging them again (DeepSpeed divides by gradient_accumulation_steps and by the
number of ranks: undo that scale in the caller). `aggregation_norm` is additive over sequences, so the global norm is
the SUM over ranks of each rank's `aggregation_norm`.

The LM head (`head_logprobs`): the trainer never asks the model for [tokens, V] logits. It hands the head's
weight the hidden states of the n completion positions, and log-softmax, the target's logprob and the entropy are
computed `chunk_tokens` positions at a time; the backward recomputes each chunk's logits. At most one chunk's
[chunk, V] block (fp32) exists at a time, in forward and in backward, instead of [n, V] logits, their fp32 copies
and their gradient (n = 4 x 3,000 completion tokens x Qwen2.5's 151,936 entries = 7 GB per fp32 copy).

Policy losses (`algo.loss`): one registry, `POLICY_LOSSES` (name -> function, filled by `@register_loss(name)`), one
signature `fn(logp, old_logp, mb, algo, norm, is_weights) -> (loss, stats)`; `Policy` calls the entry, knows no variant.
    algo.loss   loss                                                  learns from (its `select` hook)
    pg          policy_loss(...) + beta * aggregate(kl_penalty(...))  every completion
    rft         sft_loss(...)  (rejection fine-tuning, ReST-EM)       reward > algo.rft_threshold
The trainer masks the completions a loss does not select (`select_completions`); a step in which it selected none on
any rank runs at lr 0. A new loss is one decorated function here plus its test.

A trainer step, per micro-batch:
    logp, ent     = head_logprobs(hidden[mask], lm_head.weight, None, targets, temperature, chunk)  # [n] each
    is_w, s1      = importance_weights(old_logp, sampler_logp, mask, mode, cap)
    loss, s2      = POLICY_LOSSES[algo.loss](logp, old_logp, mb, algo, norm, is_w)
  which for pg is
    pg, s2        = policy_loss(logp, old_logp, adv, mask, clip_low, clip_high, loss_agg, norm, is_w)
    loss          = pg + beta * aggregate(kl_penalty(logp, ref_logp, "k3"), mask, loss_agg, norm)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor

if TYPE_CHECKING:
    from r1zero.batching import Batch

# `algo` below is the run's `cfg.algo` (config.AlgoConfig), left unannotated: config.py reads this module's
# registries to validate `algo.*`, so this module does not import config back, even for a type.

LOSS_AGGS = ("token_mean", "seq_mean", "constant")
KL_ESTIMATORS = ("k1", "k2", "k3")
IS_MODES = ("off", "truncate", "mask")
MAX_LOG_RATIO = 20.0  # log-ratios are clamped to +-20 before exp: e^20 ~ 5e8 stays finite in fp32, and so do gradients


# ---------------------------------------------------------------------------------------------- log-probabilities


def _up(x: Tensor) -> Tensor:
    """bf16/fp16 -> fp32 (softmax sums need it); fp32/fp64 unchanged, without a copy."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def gather_logprobs(logits: Tensor, targets: Tensor, temperature: float = 1.0, chunk_rows: int = 1) -> Tensor:
    """Float[b, T]: log softmax(logits / temperature)[targets], for logits [b, T, V] and targets Long[b, T].

    Computed in fp32 for bf16/fp16 logits, else in the logits' dtype. Rows are processed `chunk_rows` at a time, so
    at most a [chunk_rows, T, V] fp32 copy of bf16 logits exists at once (log_softmax of the whole tensor would
    materialise [b, T, V] in fp32). log p = x[target] - logsumexp(x).
    """
    out = []
    for start in range(0, logits.shape[0], chunk_rows):
        lg = logits[start:start + chunk_rows]  # [c, T, V]
        tgt = targets[start:start + chunk_rows].long().unsqueeze(-1)  # [c, T, 1]
        picked = _up(lg.gather(-1, tgt).squeeze(-1))  # [c, T]
        x = _up(lg)  # no copy for fp32 logits
        if temperature != 1.0:
            x = x / temperature
            picked = picked / temperature
        out.append(picked - torch.logsumexp(x, dim=-1))  # [c, T]
    if not out:
        return _up(logits.new_zeros(targets.shape))
    return torch.cat(out)  # [b, T]


def token_logprobs(logits: Tensor, input_ids: Tensor, temperature: float = 1.0, chunk_rows: int = 1) -> Tensor:
    """Float[b, T-1]: log-probability of each next token, from a causal LM's logits [b, T, V] on input_ids [b, T].

    Position t holds log p(input_ids[:, t+1] | input_ids[:, :t+1]). `temperature` must be the sampler's, so that
    these match the sampler's logprobs (the ratios and importance weights compare the two).
    """
    return gather_logprobs(logits[:, :-1], input_ids[:, 1:], temperature, chunk_rows)  # [b, T-1]


def entropy_from_logits(logits: Tensor, temperature: float = 1.0, chunk_rows: int = 1) -> Tensor:
    """Float[b, T]: entropy of softmax(logits / temperature) at every position of logits [b, T, V].

    fp32 for half-precision logits, else the logits' dtype. Pass `logits[:, :-1]` to line up with `token_logprobs`.
    H = logsumexp(x) - sum_v softmax(x)_v x_v, chunked by rows.
    """
    out = []
    for start in range(0, logits.shape[0], chunk_rows):
        x = _up(logits[start:start + chunk_rows])  # [c, T, V]
        if temperature != 1.0:
            x = x / temperature
        lse = torch.logsumexp(x, dim=-1, keepdim=True)  # [c, T, 1]
        out.append(lse.squeeze(-1) - (torch.exp(x - lse) * x).sum(-1))  # [c, T]
    if not out:
        return _up(logits.new_zeros(logits.shape[:-1]))
    return torch.cat(out)  # [b, T]


def _chunk_logits(h: Tensor, weight: Tensor, bias: Tensor | None, temperature: float) -> Tensor:
    """Float32[c, V]: the LM head's logits of hidden h [c, d] (computed in the weight's dtype, as the model would),
    upcast, divided by the temperature."""
    x = _up(torch.nn.functional.linear(h, weight, bias))  # [c, V]
    return x / temperature if temperature != 1.0 else x


class _HeadLogprobs(torch.autograd.Function):
    """log softmax(h W^T + b)[target] per position, chunked, with the entropy as a gradient-free statistic.

    Backward, per chunk (x = logits / temperature, p = softmax(x), g = dL/dlogp [c]):
        dL/dlogits = (onehot(target) - p) * g / temperature      [c, V], cast to the weight's dtype (as autograd
        dL/dh = dL/dlogits @ W     dL/dW += dL/dlogits^T @ h       would cast the gradient of logits.float())
    dW is accumulated in fp32 over chunks for bf16/fp16 weights (a sum of bf16 partials would lose bits)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, temperature, chunk, with_entropy):
        n, dtype = hidden.shape[0], _up(weight[:0]).dtype  # fp32 for bf16/fp16 weights, else theirs
        logp = torch.empty(n, dtype=dtype, device=hidden.device)  # [n]
        lse = torch.empty_like(logp)  # [n] logsumexp of each position's x, reused by the backward
        ent = torch.empty(n if with_entropy else 0, dtype=dtype, device=hidden.device)
        for s in range(0, n, chunk):  # in place on the chunk's own logits: one [c, V] block (two with entropy)
            x = _chunk_logits(hidden[s:s + chunk], weight, bias, temperature)  # [c, V]
            picked = x.gather(-1, targets[s:s + chunk, None])  # [c, 1]
            top = x.amax(dim=-1, keepdim=True)  # [c, 1]
            e = x.sub_(top).exp_()  # exp(x - max), [c, V]
            total = e.sum(dim=-1, keepdim=True)  # [c, 1]
            lse_c = (total.log() + top)[:, 0]  # logsumexp(x), [c]
            lse[s:s + chunk] = lse_c
            logp[s:s + chunk] = picked[:, 0] - lse_c
            if with_entropy:  # H = -sum_v p_v log p_v
                p = e.div_(total)  # softmax(x), [c, V]
                ent[s:s + chunk] = -torch.special.xlogy(p, p).sum(dim=-1)
        ctx.save_for_backward(hidden, weight, bias, targets, lse)
        ctx.temperature, ctx.chunk = temperature, chunk
        ctx.mark_non_differentiable(ent)
        return logp, ent

    @staticmethod
    def backward(ctx, g_logp, _g_ent):
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        acc = torch.float32 if weight.dtype in (torch.float16, torch.bfloat16) else weight.dtype
        g_h = torch.empty_like(hidden) if need_h else None  # [n, d]
        g_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None  # [V, d]
        g_b = torch.zeros(bias.shape, dtype=acc, device=bias.device) if need_b else None  # [V]
        for s in range(0, hidden.shape[0], ctx.chunk):
            h, g = hidden[s:s + ctx.chunk], g_logp[s:s + ctx.chunk, None].to(lse.dtype)  # [c, d], [c, 1]
            p = _chunk_logits(h, weight, bias, ctx.temperature).sub_(lse[s:s + ctx.chunk, None]).exp_()  # [c, V]
            d = p.mul_(-g).scatter_add_(-1, targets[s:s + ctx.chunk, None], g)  # (onehot - p) * g, [c, V]
            d = (d / ctx.temperature if ctx.temperature != 1.0 else d).to(weight.dtype)
            if need_h:
                g_h[s:s + ctx.chunk] = d @ weight  # [c, d]
            if need_w:
                g_w += (d.t() @ h).to(acc)  # [V, d]
            if need_b:
                g_b += d.sum(0).to(acc)
        g_w = g_w.to(weight.dtype) if g_w is not None else None
        g_b = g_b.to(bias.dtype) if g_b is not None else None
        return g_h, g_w, g_b, None, None, None, None


def head_logprobs(hidden: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor, temperature: float = 1.0,
                  chunk_tokens: int = 1024, with_entropy: bool = False) -> tuple[Tensor, Tensor | None]:
    """(Float[n] logprobs, Float[n] entropies or None) of targets Long[n] under softmax((h W^T + b) / temperature),
    for hidden [n, d], an LM head's weight [V, d] and bias [V] (or None). fp32 for bf16/fp16 weights, else theirs.

    The values of `gather_logprobs(F.linear(hidden, weight, bias), targets, temperature)` (and of
    `entropy_from_logits`), computed `chunk_tokens` positions at a time (<= 0: all at once) in forward and backward.
    Gradients flow to hidden, weight and bias; the entropy has none (a statistic)."""
    chunk = chunk_tokens if chunk_tokens > 0 else max(hidden.shape[0], 1)
    logp, ent = _HeadLogprobs.apply(hidden, weight, bias, targets.long(), float(temperature), chunk, with_entropy)
    return logp, (ent if with_entropy else None)


# ---------------------------------------------------------------------------------------------- aggregation


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Scalar: mean of x [b, T] over positions where mask [b, T] is True (0 when none are)."""
    m = mask.bool()
    return torch.where(m, x, torch.zeros_like(x)).sum() / m.sum().clamp(min=1)


def _masked_stats(x: Tensor, mask: Tensor, empty: float) -> tuple[Tensor, Tensor, Tensor]:
    """Detached scalars (mean, min, max) of x [b, T] over mask [b, T]; all `empty` when nothing is valid."""
    x, m = x.detach(), mask.bool()
    n = m.sum()
    fill = x.new_tensor(empty)
    mean = torch.where(n > 0, masked_mean(x, m), fill)
    lo = torch.where(n > 0, torch.where(m, x, torch.full_like(x, float("inf"))).amin(), fill)
    hi = torch.where(n > 0, torch.where(m, x, torch.full_like(x, float("-inf"))).amax(), fill)
    return mean, lo, hi


def aggregation_norm(mask: Tensor, loss_agg: str, max_new_tokens: int) -> float:
    """The `norm` of `aggregate` for the sequences in mask [N, T] (see the module doc). Sum it over ranks."""
    m = mask.bool()
    if loss_agg == "token_mean":
        return float(m.sum())
    if loss_agg == "seq_mean":
        return float(m.any(dim=-1).sum())
    if loss_agg == "constant":
        return float(m.shape[0] * max_new_tokens)
    raise ValueError(f"unknown loss_agg {loss_agg!r}; choose one of {', '.join(LOSS_AGGS)}")


def aggregate(per_token: Tensor, mask: Tensor, loss_agg: str, norm: float | Tensor) -> Tensor:
    """Scalar loss from a per-token loss [b, T] over mask [b, T], divided by the GLOBAL batch's `norm`.

    token_mean / constant: sum of valid tokens / norm.  seq_mean: sum over sequences of each sequence's mean over
    its valid tokens / norm (a sequence with no valid token adds 0). Summing over micro-batches is exact.
    norm is a count: it is taken as >= 1, so a global batch with no valid token has loss 0, not 0/0.
    """
    norm = norm.clamp(min=1) if isinstance(norm, Tensor) else max(float(norm), 1.0)
    m = mask.bool()
    x = torch.where(m, per_token, torch.zeros_like(per_token))  # [b, T]
    if loss_agg in ("token_mean", "constant"):
        return x.sum() / norm
    if loss_agg == "seq_mean":
        per_seq = x.sum(dim=-1) / m.sum(dim=-1).clamp(min=1)  # [b]
        return per_seq.sum() / norm
    raise ValueError(f"unknown loss_agg {loss_agg!r}; choose one of {', '.join(LOSS_AGGS)}")


# ---------------------------------------------------------------------------------------------- losses


def policy_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, clip_low: float,
                clip_high: float, loss_agg: str, norm: float | Tensor,
                is_weights: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO clipped surrogate with DAPO's separate clip range [1 - clip_low, 1 + clip_high].

    logp, old_logp: [b, T] (old_logp is detached; with mu == 1 pass logp.detach(): ratio 1, plain policy gradient);
    advantages: [b] (one per sequence) or [b, T]; mask: [b, T]; is_weights: optional [b, T] sampler->trainer
    importance weights (detached, multiply the per-token loss; see `importance_weights`).
        ratio = exp(logp - old_logp);  x = -min(ratio * A, clip(ratio, 1 - clip_low, 1 + clip_high) * A)
    Returns (aggregate(x * is_weights, mask, loss_agg, norm), stats). stats are detached scalars over this
    micro-batch's valid tokens: `policy/clip_frac` (share of tokens whose clipped branch is active, so they get no
    gradient: ratio < 1-clip_low with A < 0, or ratio > 1+clip_high with A > 0), its two halves
    `policy/clip_low_frac` and `policy/clip_high_frac`, and `policy/ratio_mean|min|max`.
    """
    m = mask.bool()
    adv = (advantages[:, None] if advantages.dim() == 1 else advantages).to(logp.dtype)  # [b, 1] or [b, T]
    log_ratio = torch.where(m, logp - old_logp.detach(), torch.zeros_like(logp))  # [b, T]
    ratio = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))  # [b, T]
    unclipped = -adv * ratio  # [b, T]
    clipped = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)  # [b, T]
    per_token = torch.maximum(unclipped, clipped)  # [b, T]
    if is_weights is not None:
        per_token = per_token * is_weights.detach()
    loss = aggregate(per_token, m, loss_agg, norm)

    with torch.no_grad():
        a = adv.expand_as(ratio)
        low = (ratio < 1.0 - clip_low) & (a < 0)  # [b, T]
        high = (ratio > 1.0 + clip_high) & (a > 0)  # [b, T]
        mean, lo, hi = _masked_stats(ratio, m, empty=1.0)
        stats = {
            "policy/clip_frac": masked_mean((low | high).float(), m),
            "policy/clip_low_frac": masked_mean(low.float(), m),
            "policy/clip_high_frac": masked_mean(high.float(), m),
            "policy/ratio_mean": mean,
            "policy/ratio_min": lo,
            "policy/ratio_max": hi,
        }
    return loss, stats


def kl_penalty(logp: Tensor, ref_logp: Tensor, estimator: str = "k3") -> Tensor:
    """Float[b, T]: per-token estimate of KL(pi || pi_ref) from tokens sampled from pi (Schulman, "Approximating KL").

        k1 = log r            (unbiased, can be negative)     with log r = logp - ref_logp
        k2 = (log r)^2 / 2    (biased, >= 0)
        k3 = exp(-log r) + log r - 1 = exp(ref - logp) - (ref - logp) - 1   (unbiased, >= 0; GRPO's choice)
    ref_logp is detached. k3 clamps ref - logp to +-20 before exp (no gradient beyond, no inf).
    Reduce with `aggregate(kl_penalty(...), mask, loss_agg, norm)`.
    """
    log_r = logp - ref_logp.detach()  # [b, T]
    if estimator == "k1":
        return log_r
    if estimator == "k2":
        return 0.5 * log_r ** 2
    if estimator == "k3":
        d = (-log_r).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)  # ref - logp
        return torch.exp(d) - d - 1.0
    raise ValueError(f"unknown KL estimator {estimator!r}; choose one of {', '.join(KL_ESTIMATORS)}")


def importance_weights(trainer_logp: Tensor, sampler_logp: Tensor, mask: Tensor, mode: str,
                       cap: float) -> tuple[Tensor, dict[str, Tensor]]:
    """Detached per-token weights [b, T] correcting for the sampler (vLLM) not being exactly the trainer's policy.

    ratio = exp(trainer_logp - sampler_logp), both for the rollout's own tokens (trainer_logp: the trainer's
    logprobs before the update, i.e. old_logp).
        off       weight 1 (the stats are still computed: they measure the mismatch)
        truncate  weight min(ratio, cap)                                 (TIS)
        mask      weight ratio inside [1/cap, cap], 0 outside             (masked IS: a token the two engines disagree
                  on by more than a factor `cap` in either direction is dropped; it still counts in `norm`)
    Weights are 0 at masked positions. stats (detached scalars over valid tokens): `sampling/is_ratio_mean|max|min`
    of the raw ratio, and `sampling/is_clipped_frac`, the share of tokens whose weight is not the raw ratio
    (truncate: ratio > cap; mask: outside [1/cap, cap]; off: 0).
    """
    if mode not in IS_MODES:
        raise ValueError(f"unknown importance-sampling mode {mode!r}; choose one of {', '.join(IS_MODES)}")
    if mode != "off" and cap < 1.0:
        raise ValueError(f"importance-sampling cap must be >= 1, got {cap}")
    m = mask.bool()
    with torch.no_grad():
        diff = _up(trainer_logp) - _up(sampler_logp)  # [b, T]
        log_ratio = torch.where(m, diff, torch.zeros_like(diff))
        ratio = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))  # [b, T]
        if mode == "off":
            changed = torch.zeros_like(m)
            weights = torch.ones_like(ratio)
        elif mode == "truncate":
            changed = ratio > cap
            weights = ratio.clamp(max=cap)
        else:
            changed = (ratio > cap) | (ratio < 1.0 / cap)
            weights = torch.where(changed, torch.zeros_like(ratio), ratio)
        weights = torch.where(m, weights, torch.zeros_like(weights))  # [b, T]
        mean, lo, hi = _masked_stats(ratio, m, empty=1.0)
        stats = {"sampling/is_ratio_mean": mean, "sampling/is_ratio_max": hi, "sampling/is_ratio_min": lo,
                 "sampling/is_clipped_frac": masked_mean(changed.float(), m)}
    return weights, stats


def sft_loss(logp: Tensor, mask: Tensor, norm: float | Tensor, loss_agg: str = "token_mean") -> Tensor:
    """Scalar negative log-likelihood of the masked tokens, logp [b, T], with the same aggregation as the PG loss."""
    return aggregate(-logp, mask, loss_agg, norm)


# ---------------------------------------------------------------------------------------------- the loss registry

POLICY_LOSSES: dict[str, Callable] = {}  # algo.loss -> fn(logp, old_logp, mb, algo, norm, is_weights), see the doc


def register_loss(name: str, select: Callable | None = None):
    """Decorator: the function becomes `algo.loss=name` (config.validate reads the names from POLICY_LOSSES).

    fn(logp [b, T], old_logp [b, T], mb, algo, norm, is_weights [b, T] | None) -> (loss, detached stats), with mb the
    micro-batch on logp's device (`advantages`, `loss_mask`, `ref_lp`) and algo `cfg.algo`. `select(rewards [N],
    algo) -> (Bool[N], metrics)`, if given, picks the completions the loss learns from (`select_completions`)."""
    def add(fn: Callable) -> Callable:
        if name in POLICY_LOSSES:
            raise ValueError(f"policy loss {name!r} is registered twice")
        fn.select = select
        POLICY_LOSSES[name] = fn
        return fn
    return add


def selection(loss: str) -> Callable | None:
    """The `select` hook of `algo.loss=loss`; None for a loss that learns from every completion."""
    return getattr(POLICY_LOSSES[loss], "select", None)  # also None for an entry put in the dict by hand


def select_completions(loss_mask: Tensor, rewards: Tensor, algo) -> tuple[Tensor, dict[str, float]]:
    """(loss_mask [N, T] without the completions `algo.loss` does not select, the selection's metrics) for a step's
    rewards [N]; the mask as it is and no metrics for a loss without a `select` hook."""
    select = selection(algo.loss)
    if select is None:
        return loss_mask, {}
    keep, metrics = select(rewards, algo)  # Bool[N]
    return loss_mask & keep[:, None], metrics


@register_loss("pg")
def clipped_pg_loss(logp: Tensor, old_logp: Tensor, mb: Batch, algo, norm: float | Tensor,
                    is_weights: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """The clipped policy gradient (GRPO, DAPO, Dr. GRPO differ only in advantage, clip range and aggregation),
    plus beta x the KL estimate to the reference (`mb.ref_lp`) when beta > 0."""
    pg, stats = policy_loss(logp, old_logp, mb.advantages, mb.loss_mask, algo.clip_low, algo.clip_high,
                            algo.loss_agg, norm, is_weights=is_weights)
    stats["loss/policy"] = pg.detach()
    if algo.beta <= 0:
        return pg, stats
    kl = aggregate(kl_penalty(logp, mb.ref_lp, algo.kl_estimator), mb.loss_mask, algo.loss_agg, norm)
    stats["loss/kl"] = kl.detach()
    return pg + algo.beta * kl, stats


def accepted_completions(rewards: Tensor, algo) -> tuple[Tensor, dict[str, float]]:
    """Bool[N]: rft's accepted completions, reward > algo.rft_threshold (rewards [N] after any overlong penalty)."""
    accepted = rewards > algo.rft_threshold  # [N]
    return accepted, {"rft/accepted_frac": float(accepted.float().mean())}


@register_loss("rft", select=accepted_completions)
def rft_loss(logp: Tensor, old_logp: Tensor, mb: Batch, algo, norm: float | Tensor,
             is_weights: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """Rejection fine-tuning (ReST-EM, the grm and seal tasks' supervised stage): the NLL of the accepted completions.
    No ratio, KL or importance weight: they are targets, not samples whose probability is being reweighted."""
    loss = sft_loss(logp, mb.loss_mask, norm, algo.loss_agg)
    return loss, {"loss/sft": loss.detach()}

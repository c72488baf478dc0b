"""The policy-gradient losses, KL estimators, sampler->trainer importance weights, and the one aggregation they all
share. Pure torch functions, shapes in comments (the token logprobs they take come from `logprobs.py`).

Shapes: b sequences in a micro-batch, T positions. Every per-token tensor [b, T] lines up with a `mask` [b, T]
(bool, or 0/1) that is True where a completion token counts in the loss. Values at masked positions (padding,
prompt) may be anything finite; they are selected away with `torch.where`, never multiplied by 0.

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

Policy losses (`algo.loss`): one registry, `POLICY_LOSSES` (name -> function, filled by `@register_loss(name)`), one
signature `fn(logp, old_logp, mb, algo, norm, is_weights) -> (loss, stats)`; `Policy` calls the entry, knows no variant.
    algo.loss   loss                                                  learns from (its `select` hook)
    pg          PG_LOSSES[policy_loss](...) + beta * aggregate(kl_penalty(...))   every completion
    rft         sft_loss(...)  (rejection fine-tuning, ReST-EM)       reward > algo.rft_threshold
The trainer masks the completions a loss does not select (`select_completions`); a step in which it selected none on
any rank runs at lr 0. A new loss is one decorated function here plus its test.

Policy-gradient forms of `pg` (`algo.policy_loss`): a second registry, `PG_LOSSES` (`@register_pg_loss(name)`), each
`fn(logp, old_logp, advantages, mask, clip_low, clip_high, loss_agg, norm, is_weights) -> (loss, stats)` with the
stats of `policy_loss`. With r_t = exp(logp_t - old_logp_t), A the advantage, sg a stop-gradient:
    clip   x_t = -min(r_t A, clip(r_t, 1 - lo, 1 + hi) A)           PPO / GRPO, DAPO's two-sided range (default)
    gspo   x_t = -min(s A, clip(s, 1 - lo, 1 + hi) A),  s = exp(mean_t(logp_t - old_logp_t)) per sequence, with
           the token gradient of s_t = sg[s] * exp(logp_t - sg[logp_t])        GSPO (Zheng et al. 2025), as verl
    cispo  x_t = -sg[clip(r_t, 1 - lo, 1 + hi)] A logp_t                       CISPO (MiniMax-M1 2025), as verl
Every form multiplies x_t by the importance weight and reduces it with `aggregate`.

Importance weights (`importance_weights`), sampler (vLLM) -> trainer, per `algo.is_level` x `algo.is_correction`:
    level     weight unit    log w  (old_logp: the trainer's logprobs before the update)
    token     each token     old_logp_t - sampler_logp_t            (the default)
    sequence  each sequence  sum_t (old_logp_t - sampler_logp_t)    (the product of the token ratios)
    geo_mean  each sequence  mean_t (old_logp_t - sampler_logp_t)   (their geometric mean)
    truncate: w -> min(w, cap) (TIS);  mask: w -> 0 outside [1/cap, cap] (a whole sequence at sequence levels).

A trainer step, per micro-batch:
    logp, ent     = head_logprobs(hidden[mask], lm_head.weight, None, targets, temperature, chunk)  # [n] each
    is_w, s1      = importance_weights(old_logp, sampler_logp, mask, mode, cap, level)
    loss, s2      = POLICY_LOSSES[algo.loss](logp, old_logp, mb, algo, norm, is_w)
    loss          = loss - entropy_coef * aggregate(ent, mask, loss_agg, norm)     # only when entropy_coef > 0
  which for pg is
    pg, s2        = PG_LOSSES[policy_loss](logp, old_logp, adv, mask, clip_low, clip_high, loss_agg, norm, is_w)
    loss          = pg + beta * aggregate(kl_penalty(logp, ref_logp, "k3"), mask, loss_agg, norm)
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor

from r1zero.logprobs import upcast

if TYPE_CHECKING:
    from r1zero.batching import Batch

# `algo` below is the run's `cfg.algo` (config.AlgoConfig), left unannotated: config.py reads this module's
# registries to validate `algo.*`, so this module does not import config back, even for a type.

LOSS_AGGS = ("token_mean", "seq_mean", "constant")
KL_ESTIMATORS = ("k1", "k2", "k3")
IS_MODES = ("off", "truncate", "mask")
IS_LEVELS = ("token", "sequence", "geo_mean")
MAX_LOG_RATIO = 20.0  # log-ratios are clamped to +-20 before exp: e^20 ~ 5e8 stays finite in fp32, and so do gradients


def registering(table: dict[str, Callable], kind: str, name: str, **marks):
    """A decorator that adds its function to `table` as `name` (refusing a name twice), with `marks` set on it as
    attributes: what `register_loss`, `register_pg_loss` and `advantages.register_advantage` share."""
    def add(fn: Callable) -> Callable:
        if name in table:
            raise ValueError(f"{kind} {name!r} is registered twice")
        for key, value in marks.items():
            setattr(fn, key, value)
        table[name] = fn
        return fn
    return add


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

# ---------------------------------------------------------------------------------------------- policy-gradient forms

PG_LOSSES: dict[str, Callable] = {}  # algo.policy_loss -> fn with `policy_loss`'s signature (the module doc's table)


def register_pg_loss(name: str):
    """Decorator: the function becomes `algo.policy_loss=name`, the policy-gradient form that `algo.loss=pg` uses
    (config.validate reads the names from PG_LOSSES). Its signature and stats keys are `policy_loss`'s."""
    return registering(PG_LOSSES, "policy-gradient form", name)


def _token_ratios(logp: Tensor, old_logp: Tensor, advantages: Tensor,
                  mask: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """What every form starts from: (Bool mask [b, T], advantages [b, 1] or [b, T] in logp's dtype, log-ratio
    logp - old_logp [b, T] (0 off the mask), ratio [b, T] (its exp, the log clamped to +-MAX_LOG_RATIO))."""
    m = mask.bool()
    adv = (advantages[:, None] if advantages.dim() == 1 else advantages).to(logp.dtype)  # [b, 1] or [b, T]
    log_ratio = torch.where(m, logp - old_logp.detach(), torch.zeros_like(logp))  # [b, T]
    ratio = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))  # [b, T]
    return m, adv, log_ratio, ratio


def _weighted(per_token: Tensor, m: Tensor, loss_agg: str, norm: float | Tensor, is_weights: Tensor | None) -> Tensor:
    """aggregate(per_token [b, T] x the detached importance weights [b, T] (when given), m, loss_agg, norm)."""
    if is_weights is not None:
        per_token = per_token * is_weights.detach()
    return aggregate(per_token, m, loss_agg, norm)


def _ratio_stats(ratio: Tensor, low: Tensor, high: Tensor, m: Tensor) -> dict[str, Tensor]:
    """Detached scalars over the valid tokens m [b, T]: the clip fractions of the Bool[b, T] (or broadcastable)
    low / high sides and of their union, and the ratio's [b, T] mean, min and max (1 when nothing is valid)."""
    with torch.no_grad():
        low, high = low.expand_as(m), high.expand_as(m)
        mean, lo, hi = _masked_stats(ratio, m, empty=1.0)
        return {
            "policy/clip_frac": masked_mean((low | high).float(), m),
            "policy/clip_low_frac": masked_mean(low.float(), m),
            "policy/clip_high_frac": masked_mean(high.float(), m),
            "policy/ratio_mean": mean,
            "policy/ratio_min": lo,
            "policy/ratio_max": hi,
        }


def _clipped_surrogate(ratio: Tensor, adv: Tensor, m: Tensor, clip_low: float, clip_high: float, loss_agg: str,
                       norm: float | Tensor, is_weights: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
    """The PPO surrogate of a ratio [b, T] (per token for clip, one per sequence for gspo) and its stats: the clipped
    side is the one whose branch is active, so that it gets no gradient (ratio < 1 - lo with A < 0, > 1 + hi with
    A > 0)."""
    unclipped = -adv * ratio  # [b, T]
    clipped = -adv * ratio.clamp(1.0 - clip_low, 1.0 + clip_high)  # [b, T]
    loss = _weighted(torch.maximum(unclipped, clipped), m, loss_agg, norm, is_weights)
    r = ratio.detach()
    return loss, _ratio_stats(r, (r < 1.0 - clip_low) & (adv < 0), (r > 1.0 + clip_high) & (adv > 0), m)


@register_pg_loss("clip")
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
    m, adv, _, ratio = _token_ratios(logp, old_logp, advantages, mask)
    return _clipped_surrogate(ratio, adv, m, clip_low, clip_high, loss_agg, norm, is_weights)


@register_pg_loss("gspo")
def gspo_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, clip_low: float, clip_high: float,
              loss_agg: str, norm: float | Tensor,
              is_weights: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """GSPO (Zheng et al. 2025, Group Sequence Policy Optimization): `policy_loss` with one ratio per sequence,
    s_i = exp(mean_t(logp_t - old_logp_t)) over its valid tokens, clipped at the sequence level: when s_i leaves
    [1 - clip_low, 1 + clip_high] on the side the advantage pushes, the whole sequence gets no gradient.

    The token form of the paper (GSPO-token) and verl's `compute_policy_loss_gspo`: s_i,t = sg[s_i] * exp(logp_t -
    sg[logp_t]) has the value s_i and the gradient s_i * grad logp_t, so per-token advantages and the importance
    weights still apply per token. With `loss_agg=seq_mean` (verl's default for GSPO) and one advantage per
    sequence the gradient is exactly that of the sequence objective -min(s_i A_i, clip(s_i) A_i). The paper clips
    far tighter (3e-4 / 4e-4) than the token ratio's 0.2 / 0.28: set clip_low / clip_high for it. The ratio stats
    are those of s_i, counted per token (token-weighted means)."""
    m, adv, log_ratio, _ = _token_ratios(logp, old_logp, advantages, mask)
    n = m.sum(dim=-1, keepdim=True).clamp(min=1)  # [b, 1] valid tokens per sequence
    log_s = (log_ratio.sum(dim=-1, keepdim=True) / n).detach().clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)  # [b, 1]
    token = torch.where(m, logp - logp.detach(), torch.zeros_like(logp))  # [b, T] value 0, gradient grad logp
    ratio = torch.exp(log_s + token)  # [b, T]: s_i at every token of sequence i
    return _clipped_surrogate(ratio, adv, m, clip_low, clip_high, loss_agg, norm, is_weights)


@register_pg_loss("cispo")
def cispo_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, clip_low: float, clip_high: float,
               loss_agg: str, norm: float | Tensor,
               is_weights: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """CISPO (MiniMax-M1, 2025): REINFORCE with the token ratio clipped and detached as its weight,
    x_t = -sg[clip(r_t, 1 - clip_low, 1 + clip_high)] * A * logp_t (verl's `compute_policy_loss_cispo`).

    Unlike `policy_loss` no token loses its gradient: the clip bounds the weight, not the update (d x_t / d logp_t =
    -clip(r_t) A). On-policy (ratio 1) the gradient is the clipped form's. The clip fractions count the tokens whose
    weight is clipped, whatever the advantage's sign (ratio < 1 - clip_low, ratio > 1 + clip_high). MiniMax-M1 set no
    lower bound (a large eps_low) and tuned only eps_high: clip_low close to 1 (e.g. 0.999) is the nearest here."""
    m, adv, _, ratio = _token_ratios(logp, old_logp, advantages, mask)
    weight = ratio.detach().clamp(1.0 - clip_low, 1.0 + clip_high)  # [b, T] sg[clip(r)]
    loss = _weighted(-weight * adv * logp, m, loss_agg, norm, is_weights)
    r = ratio.detach()
    return loss, _ratio_stats(r, r < 1.0 - clip_low, r > 1.0 + clip_high, m)


# ---------------------------------------------------------------------------------------------- KL, IS, SFT


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

def _is_log_ratio(diff: Tensor, m: Tensor, level: str) -> tuple[Tensor, Tensor]:
    """(log w, the mask of its units) of the trainer - sampler logprob differences diff [b, T] over m [b, T]: per
    token ([b, T], m), or per sequence ([b, 1], the sequences with a valid token) for the sequence levels."""
    log_ratio = torch.where(m, diff, torch.zeros_like(diff))  # [b, T]
    if level == "token":
        return log_ratio, m
    total = log_ratio.sum(dim=-1, keepdim=True)  # [b, 1]: log of the product of the token ratios
    if level == "geo_mean":
        total = total / m.sum(dim=-1, keepdim=True).clamp(min=1)  # log of their geometric mean
    return total, m.any(dim=-1, keepdim=True)


def importance_weights(trainer_logp: Tensor, sampler_logp: Tensor, mask: Tensor, mode: str, cap: float,
                       level: str = "token") -> tuple[Tensor, dict[str, Tensor]]:
    """Detached weights [b, T] correcting for the sampler (vLLM) not being exactly the trainer's policy.

    ratio = exp(log w), from trainer_logp - sampler_logp for the rollout's own tokens (trainer_logp: the trainer's
    logprobs before the update, i.e. old_logp), per `level` (IS_LEVELS, the module doc's table): one weight per
    token, or one per sequence (every token of it gets that weight). The log is clamped to +-20 before exp.
        off       weight 1 (the stats are still computed: they measure the mismatch)
        truncate  weight min(ratio, cap)                                 (TIS)
        mask      weight ratio inside [1/cap, cap], 0 outside             (masked IS: a token, or at the sequence
                  levels a whole sequence, the two engines disagree on by more than a factor `cap` in either
                  direction is dropped; it still counts in `norm`)
    These are verl's rollout-correction levels (token / sequence / geometric) and modes (truncate: an upper cap;
    mask: lower threshold 1/upper); TRL's `vllm_importance_sampling_mode` (token|sequence x truncate|mask) is the
    same but masks only above the cap. Weights are 0 at masked positions. stats (detached scalars over the weight's
    units: valid tokens, or sequences with one): `sampling/is_ratio_mean|max|min` of the raw ratio, and
    `sampling/is_clipped_frac`, the share of units whose weight is not the raw ratio (truncate: ratio > cap; mask:
    outside [1/cap, cap]; off: 0).
    """
    if mode not in IS_MODES:
        raise ValueError(f"unknown importance-sampling mode {mode!r}; choose one of {', '.join(IS_MODES)}")
    if level not in IS_LEVELS:
        raise ValueError(f"unknown importance-sampling level {level!r}; choose one of {', '.join(IS_LEVELS)}")
    if mode != "off" and cap < 1.0:
        raise ValueError(f"importance-sampling cap must be >= 1, got {cap}")
    m = mask.bool()
    with torch.no_grad():
        log_ratio, unit = _is_log_ratio(upcast(trainer_logp) - upcast(sampler_logp), m, level)  # [b, T] or [b, 1]
        ratio = torch.exp(log_ratio.clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))  # [b, T] or [b, 1]
        if mode == "off":
            changed = torch.zeros_like(unit)
            weights = torch.ones_like(ratio)
        elif mode == "truncate":
            changed = ratio > cap
            weights = ratio.clamp(max=cap)
        else:
            changed = (ratio > cap) | (ratio < 1.0 / cap)
            weights = torch.where(changed, torch.zeros_like(ratio), ratio)
        weights = torch.where(m, weights, torch.zeros_like(weights))  # [b, T] (a sequence's weight on its tokens)
        mean, lo, hi = _masked_stats(ratio, unit, empty=1.0)
        stats = {"sampling/is_ratio_mean": mean, "sampling/is_ratio_max": hi, "sampling/is_ratio_min": lo,
                 "sampling/is_clipped_frac": masked_mean(changed.float(), unit)}
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
    return registering(POLICY_LOSSES, "policy loss", name, select=select)


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
    """The policy gradient of form `algo.policy_loss` (PG_LOSSES; GRPO, DAPO, Dr. GRPO are `clip` and differ only in
    advantage, clip range and aggregation), plus beta x the KL estimate to the reference (`mb.ref_lp`) when beta > 0."""
    form = PG_LOSSES[algo.policy_loss]
    pg, stats = form(logp, old_logp, mb.advantages, mb.loss_mask, algo.clip_low, algo.clip_high, algo.loss_agg, norm,
                     is_weights=is_weights)
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

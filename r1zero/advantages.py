"""Rewards -> advantages: pure torch functions, shapes in comments.

Rollouts are prompt-major: the N = B*G rewards of a step are laid out so that `rewards.view(B, G)` puts the G
completions of prompt b in row b. Every function here takes that flat [N] tensor plus `group_size` (G).

    rewards  = rewards + overlong_soft_penalty(lengths, max_new_tokens, buffer, penalty)   # algo.overlong=soft
    keep     = dynamic_sampling_keep(rewards, G)                                            # algo.dynamic_sampling
    adv      = group_advantages(rewards, G, mode=cfg.algo.advantage)                        # [N], one per sequence

Estimators (`algo.advantage`): one registry, `ADVANTAGES` (name -> fn(r [B, G], eps) -> [B, G], filled by
`@register_advantage(name)`); `group_advantages` calls the entry. With r the rewards of one group, mean/std over the
group's G values unless said otherwise:
    grpo    A = (r - mean(r)) / (std(r) + eps)     DeepSeekMath GRPO. std is the *unbiased* one (torch.std default,
                                                   divisor G-1), as TRL's GRPOTrainer computes it.
    drgrpo  A = r - mean(r)                        Dr. GRPO: no std division (it up-weights easy/hard prompts).
    batch   A = (r - mean(r)) / (S + eps)          group-mean baseline, one batch-level scale (REINFORCE++-baseline,
                                                   "Lite PPO"): S is the unbiased std of the N group-centred values
                                                   (r - mean(r)) over the whole batch. Their batch mean is exactly 0,
                                                   so this is batch whitening of the group-centred rewards.
                                                   With G == 1 a group has no peers and its own mean would cancel
                                                   the reward, so the whole batch is the group:
                                                   A = (r - mean_N) / (std_N + eps).
    rloo    A_i = r_i - mean_{j != i} r_j          RLOO (Ahmadian et al. 2024; OpenRLHF's and TRL's `rloo`): each
              = G / (G - 1) * (r_i - mean(r))      completion's baseline is the mean of its G-1 peers, no std.
    reinforce_pp  A = (r - mean_N) / (std_N + eps) REINFORCE++ (Hu 2025; OpenRLHF `reinforce`): global batch
                                                   whitening of the rewards, no group baseline (mean_N, std_N over
                                                   all N; outcome rewards, KL not in the reward). Its group-mean
                                                   variant, REINFORCE++-baseline, is `batch`.
In every mode but reinforce_pp a group whose rewards are all equal gets advantage exactly 0 (not 0/eps noise, never
NaN): `group_advantages` sets it for G >= 2, an estimator that accepts G == 1 sees to it itself. reinforce_pp
compares a completion with the batch, not its group (a prompt solved by all G completions is still above the batch
mean), so it is registered with `zero_equal_groups=False`; an all-equal batch gets exactly 0. batch and
reinforce_pp whiten per sequence with the unbiased std (OpenRLHF whitens per token with the biased one, which weights
long completions more). A new estimator is one decorated function here plus its test.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from r1zero.losses import registering

ADVANTAGES: dict[str, Callable[[Tensor, float], Tensor]] = {}  # algo.advantage -> fn(rewards [B, G], eps) -> [B, G]


def register_advantage(name: str, zero_equal_groups: bool = True, one_per_prompt: bool = False):
    """Decorator: the function becomes `algo.advantage=name` (config.validate reads the names from ADVANTAGES).
    `zero_equal_groups=False`: `group_advantages` leaves the estimator's values for all-equal groups as they are
    (for an estimator without a group baseline). `one_per_prompt=True`: it also takes group_size 1 (it compares a
    completion with the batch); the others compare completions of one prompt, and group_size 1 is refused for them
    (here and by config.validate, through `needs_groups`)."""
    return registering(ADVANTAGES, "advantage estimator", name, zero_equal_groups=zero_equal_groups,
                       one_per_prompt=one_per_prompt)


def needs_groups(mode: str) -> bool:
    """True when `algo.advantage=mode` compares completions of one prompt (group_size >= 2)."""
    return not getattr(ADVANTAGES[mode], "one_per_prompt", False)  # also for an entry put in the dict by hand


def _groups(rewards: Tensor, group_size: int) -> Tensor:
    """[N] -> [B, G] (float32), checking that N is a whole number of groups."""
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D [B*G], got shape {tuple(rewards.shape)}")
    if group_size < 1 or rewards.numel() % group_size:
        raise ValueError(f"{rewards.numel()} rewards are not a whole number of groups of size {group_size}")
    return rewards.float().view(-1, group_size)


def zero_std_groups(rewards: Tensor, group_size: int) -> Tensor:
    """Bool[B]: True for groups whose G rewards are all equal (no learning signal under GRPO)."""
    r = _groups(rewards, group_size)  # [B, G]
    return r.amax(dim=1) == r.amin(dim=1)  # [B]


def frac_zero_std(rewards: Tensor, group_size: int) -> float:
    """Share of groups with all-equal rewards: the metric `reward/frac_zero_std`."""
    return zero_std_groups(rewards, group_size).float().mean().item()


def dynamic_sampling_keep(rewards: Tensor, group_size: int) -> Tensor:
    """Bool[N]: True for the sequences of groups that are not all-equal (DAPO dynamic sampling keeps these)."""
    return (~zero_std_groups(rewards, group_size)).repeat_interleave(group_size)  # [N]


def group_advantages(rewards: Tensor, group_size: int, mode: str = "grpo", eps: float = 1e-6) -> Tensor:
    """Float[N] advantages, one per sequence, from Float[N] prompt-major rewards (see the module doc for modes)."""
    if mode not in ADVANTAGES:
        raise ValueError(f"unknown advantage mode {mode!r}; choose one of {', '.join(ADVANTAGES)}")
    r = _groups(rewards, group_size)  # [B, G]
    if group_size == 1 and needs_groups(mode):  # a completion's own mean would cancel its reward
        raise ValueError(f"advantage mode {mode!r} compares completions of one prompt: it needs group_size >= 2 "
                         "(use mode 'batch' for one completion per prompt)")
    estimator = ADVANTAGES[mode]
    adv = estimator(r, eps)  # [B, G]
    # a group of one is always "all equal": the estimator decided (batch: the batch is the group)
    if group_size > 1 and getattr(estimator, "zero_equal_groups", True):  # True too for an entry put in by hand
        equal = zero_std_groups(rewards, group_size)[:, None]  # [B, 1]
        adv = torch.where(equal, torch.zeros_like(adv), adv)
    return adv.reshape(-1)  # [N]


def _centred(r: Tensor) -> Tensor:
    """[B, G] rewards minus their group's mean (G >= 2: `group_advantages` refuses G == 1 unless one_per_prompt)."""
    return r - r.mean(dim=1, keepdim=True)  # [B, G]


@register_advantage("grpo")
def grpo_advantages(r: Tensor, eps: float) -> Tensor:
    return _centred(r) / (r.std(dim=1, keepdim=True) + eps)  # unbiased std, divisor G-1


@register_advantage("drgrpo")
def drgrpo_advantages(r: Tensor, eps: float) -> Tensor:
    return _centred(r)


@register_advantage("batch", one_per_prompt=True)
def batch_advantages(r: Tensor, eps: float) -> Tensor:
    if r.shape[1] > 1:
        centred = _centred(r)  # [B, G]
        return centred / (centred.std() + eps)  # one scale for all N values
    return _batch_whitened(r, eps)  # G == 1: the whole batch is the group


def _batch_whitened(r: Tensor, eps: float) -> Tensor:
    """(r - mean_N) / (std_N + eps) over all N rewards of r [B, G] (unbiased std); exactly 0 when they are all
    equal (or N == 1), not rounding noise / eps."""
    flat = r.reshape(-1)  # [N]
    if flat.numel() < 2 or bool(flat.amax() == flat.amin()):
        return torch.zeros_like(r)
    return ((flat - flat.mean()) / (flat.std() + eps)).view_as(r)  # [B, G]


@register_advantage("rloo")
def rloo_advantages(r: Tensor, eps: float) -> Tensor:
    # r_i - (sum_j r_j - r_i) / (G - 1) = (G r_i - sum_j r_j) / (G - 1) = G / (G - 1) * (r_i - mean)
    g = r.shape[1]
    return _centred(r) * (g / (g - 1))  # [B, G]; G >= 2 (needs_groups)


@register_advantage("reinforce_pp", zero_equal_groups=False, one_per_prompt=True)
def reinforce_pp_advantages(r: Tensor, eps: float) -> Tensor:
    return _batch_whitened(r, eps)  # no group baseline: a group is not what a completion is compared with


def overlong_soft_penalty(lengths: Tensor, max_new_tokens: int, buffer: int, penalty: float) -> Tensor:
    """Float[N] reward shaping for long completions (DAPO's soft overlong punishment), added to the reward.

        L <= max_new_tokens - buffer              ->  0
        max_new_tokens - buffer < L <= max        ->  -penalty * (L - (max_new_tokens - buffer)) / buffer  (linear)
        L >= max_new_tokens                       ->  -penalty
    `lengths` are completion lengths in tokens. buffer <= 0 turns the penalty off (all zeros).
    """
    lengths = lengths.float()  # [N]
    if buffer <= 0:
        return torch.zeros_like(lengths)
    over = (lengths - (max_new_tokens - buffer)).clamp(min=0.0, max=float(buffer))  # [N], tokens into the buffer
    return -penalty * over / buffer  # [N]

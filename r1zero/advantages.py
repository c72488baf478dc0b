"""Rewards -> advantages: pure torch functions, shapes in comments.

Rollouts are prompt-major: the N = B*G rewards of a step are laid out so that `rewards.view(B, G)` puts the G
completions of prompt b in row b. Every function here takes that flat [N] tensor plus `group_size` (G).

    rewards  = rewards + overlong_soft_penalty(lengths, max_new_tokens, buffer, penalty)   # algo.overlong=soft
    keep     = dynamic_sampling_keep(rewards, G)                                            # algo.dynamic_sampling
    adv      = group_advantages(rewards, G, mode=cfg.algo.advantage)                        # [N], one per sequence

Modes (`algo.advantage`), with r the rewards of one group, mean/std over the group's G values unless said otherwise:
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
In every mode a group whose rewards are all equal gets advantage exactly 0 (not 0/eps noise, never NaN).
"""
from __future__ import annotations

import torch
from torch import Tensor

ADVANTAGE_MODES = ("grpo", "drgrpo", "batch")


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
    if mode not in ADVANTAGE_MODES:
        raise ValueError(f"unknown advantage mode {mode!r}; choose one of {', '.join(ADVANTAGE_MODES)}")
    r = _groups(rewards, group_size)  # [B, G]
    if group_size == 1:
        if mode != "batch":
            raise ValueError(f"advantage mode {mode!r} compares completions of one prompt: it needs group_size >= 2 "
                             "(use mode 'batch' for one completion per prompt)")
        flat = r.view(-1)  # [N]
        if flat.numel() < 2 or bool(flat.amax() == flat.amin()):  # all equal: exactly 0, not rounding noise / eps
            return torch.zeros_like(flat)
        centred = flat - flat.mean()
        return centred / (flat.std() + eps)  # [N]
    centred = r - r.mean(dim=1, keepdim=True)  # [B, G]
    if mode == "grpo":
        adv = centred / (r.std(dim=1, keepdim=True) + eps)  # unbiased std, divisor G-1
    elif mode == "drgrpo":
        adv = centred
    else:  # batch
        adv = centred / (centred.std() + eps)  # one scale for all N values
    equal = zero_std_groups(rewards, group_size)[:, None]  # [B, 1]
    return torch.where(equal, torch.zeros_like(adv), adv).view(-1)  # [N]


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

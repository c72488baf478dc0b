"""Rollouts -> padded tensors, and the micro-batches the policy trains on.

Layout (right padding), for N sequences of prompt + completion, T = longest prompt + completion:
    input_ids   [N, T]    prompt tokens, then completion tokens, then pad
    attn_mask   [N, T]    1 on real tokens
    loss_mask   [N, T-1]  1 where position t predicts a *completion* token input_ids[:, t+1]
    sampler_lp  [N, T-1]  the engine's logprob of that token (0 elsewhere); None if the engine gave none
    advantages  [N]
Logprob tensors are indexed like `losses.token_logprobs`: column t is the logprob of input_ids[:, t+1].
A batch is built on the CPU; the policy moves each micro-batch to its device (`Batch.to`).
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch

from r1zero.rollout.base import Rollout


@dataclass
class Batch:
    input_ids: torch.Tensor  # [N, T] long
    attn_mask: torch.Tensor  # [N, T] long
    loss_mask: torch.Tensor  # [N, T-1] bool
    advantages: torch.Tensor  # [N] float
    sampler_lp: torch.Tensor | None = None  # [N, T-1]
    # [N, T-1] trainer logprobs before the update (mu > 1 or minibatches > 1; else the update uses its own, detached)
    old_lp: torch.Tensor | None = None
    ref_lp: torch.Tensor | None = None  # [N, T-1] reference-model logprobs (beta > 0)
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def select(self, rows: slice | torch.Tensor) -> "Batch":
        """A sub-batch of rows, trimmed to its own longest sequence (saves compute on short micro-batches)."""
        sub = {f.name: (getattr(self, f.name)[rows] if isinstance(getattr(self, f.name), torch.Tensor) else
                        getattr(self, f.name)) for f in fields(self)}
        width = int(sub["attn_mask"].sum(1).max().item()) if len(sub["attn_mask"]) else 1
        width = max(width, 2)
        for name in ("input_ids", "attn_mask"):
            sub[name] = sub[name][:, :width]
        for name in ("loss_mask", "sampler_lp", "old_lp", "ref_lp"):
            if sub[name] is not None:
                sub[name] = sub[name][:, :width - 1]
        return replace(self, **sub)

    def to(self, device: torch.device | str) -> "Batch":
        """The same batch with every tensor on `device` (tensors already there are not copied)."""
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self)
                 if isinstance(getattr(self, f.name), torch.Tensor)}
        return replace(self, **moved)

    def micro_batches(self, size: int) -> list["Batch"]:
        return [self.select(slice(i, i + size)) for i in range(0, len(self), size)]


def make_batch(rollouts: list[Rollout], advantages: torch.Tensor, pad_id: int,
               mask_truncated: bool = False) -> Batch:
    """`mask_truncated`: completions that hit max_new_tokens get no loss (DAPO overlong filtering)."""
    n = len(rollouts)
    width = max(len(r.prompt_ids) + len(r.completion_ids) for r in rollouts)
    width = max(width, 2)
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    attn = torch.zeros((n, width), dtype=torch.long)
    loss_mask = torch.zeros((n, width - 1), dtype=torch.bool)
    has_lp = all(r.logprobs is not None for r in rollouts)
    sampler = torch.zeros((n, width - 1), dtype=torch.float32) if has_lp else None
    for i, r in enumerate(rollouts):
        p, c = len(r.prompt_ids), len(r.completion_ids)
        ids[i, :p + c] = torch.tensor(r.prompt_ids + r.completion_ids, dtype=torch.long)
        attn[i, :p + c] = 1
        if not (mask_truncated and r.truncated):
            loss_mask[i, p - 1:p + c - 1] = True
        if sampler is not None and c:
            sampler[i, p - 1:p + c - 1] = torch.tensor(r.logprobs, dtype=torch.float32)
    return Batch(ids, attn, loss_mask, advantages.float(), sampler_lp=sampler)

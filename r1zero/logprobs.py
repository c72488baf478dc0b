"""Token log-probabilities and entropies: of full logits (`gather_logprobs`, `token_logprobs`,
`entropy_from_logits`) and of an LM head's hidden states, chunked (`head_logprobs`). Pure torch, shapes in comments:
b sequences, T positions, V vocabulary, n selected positions, d hidden size.

The LM head (`head_logprobs`): the trainer never asks the model for [tokens, V] logits. It hands the head's
weight the hidden states of the n completion positions, and log-softmax, the target's logprob and the entropy are
computed `chunk_tokens` positions at a time; the backward recomputes each chunk's logits. At most one chunk's
[chunk, V] block (fp32) exists at a time, in forward and in backward, instead of [n, V] logits, their fp32 copies
and their gradient (n = 4 x 3,000 completion tokens x Qwen2.5's 151,936 entries = 7 GB per fp32 copy). The entropy
is a statistic without a gradient unless asked for one (`entropy_grad`, for `algo.entropy_coef` > 0).
"""
from __future__ import annotations

import torch
from torch import Tensor


def upcast(x: Tensor) -> Tensor:
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
        picked = upcast(lg.gather(-1, tgt).squeeze(-1))  # [c, T]
        x = upcast(lg)  # no copy for fp32 logits
        if temperature != 1.0:
            x = x / temperature
            picked = picked / temperature
        out.append(picked - torch.logsumexp(x, dim=-1))  # [c, T]
    if not out:
        return upcast(logits.new_zeros(targets.shape))
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
        x = upcast(logits[start:start + chunk_rows])  # [c, T, V]
        if temperature != 1.0:
            x = x / temperature
        lse = torch.logsumexp(x, dim=-1, keepdim=True)  # [c, T, 1]
        out.append(lse.squeeze(-1) - (torch.exp(x - lse) * x).sum(-1))  # [c, T]
    if not out:
        return upcast(logits.new_zeros(logits.shape[:-1]))
    return torch.cat(out)  # [b, T]


def _chunk_logits(h: Tensor, weight: Tensor, bias: Tensor | None, temperature: float) -> Tensor:
    """Float32[c, V]: the LM head's logits of hidden h [c, d] (computed in the weight's dtype, as the model would),
    upcast, divided by the temperature."""
    x = upcast(torch.nn.functional.linear(h, weight, bias))  # [c, V]
    return x / temperature if temperature != 1.0 else x


def _entropy_logit_grad(x: Tensor, lse: Tensor, ent: Tensor, g: Tensor, g_ent: Tensor) -> Tensor:
    """-p * (g + g_ent * (log p + H)) [c, V], in place on the chunk's logits x [c, V] (lse, ent, g, g_ent: [c, 1]):
    dL/dx without its onehot * g term, for L with gradients g on the logprob and g_ent on the entropy H.
    dH/dx_v = -p_v (log p_v + H), since H = -sum_v p_v log p_v and d log p_u / dx_v = [u == v] - p_v."""
    logp_v = x.sub_(lse)  # log softmax(x), [c, V]
    p = logp_v.exp()  # softmax(x), [c, V]: a second block, only on this path
    return logp_v.add_(ent).mul_(g_ent).add_(g).mul_(p).neg_()


class _HeadLogprobs(torch.autograd.Function):
    """log softmax(h W^T + b)[target] per position, chunked, with the entropy (a gradient-free statistic unless
    `entropy_grad`).

    Backward, per chunk (x = logits / temperature, p = softmax(x), g = dL/dlogp [c], g_H = dL/dH [c]):
        dL/dlogits = ((onehot(target) - p) * g - g_H * p * (log p + H)) / temperature   [c, V], cast to the
        dL/dh = dL/dlogits @ W     dL/dW += dL/dlogits^T @ h       weight's dtype (as autograd would cast the
                                                                   gradient of logits.float())
    The g_H term exists only with `entropy_grad`. dW is accumulated in fp32 over chunks for bf16/fp16 weights (a sum
    of bf16 partials would lose bits)."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, temperature, chunk, with_entropy, entropy_grad):
        n, dtype = hidden.shape[0], upcast(weight[:0]).dtype  # fp32 for bf16/fp16 weights, else theirs
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
        ctx.save_for_backward(hidden, weight, bias, targets, lse, ent)
        ctx.temperature, ctx.chunk, ctx.entropy_grad = temperature, chunk, with_entropy and entropy_grad
        if not ctx.entropy_grad:
            ctx.mark_non_differentiable(ent)
        return logp, ent

    @staticmethod
    def backward(ctx, g_logp, g_ent):
        hidden, weight, bias, targets, lse, ent = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        acc = torch.float32 if weight.dtype in (torch.float16, torch.bfloat16) else weight.dtype
        g_h = torch.empty_like(hidden) if need_h else None  # [n, d]
        g_w = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None  # [V, d]
        g_b = torch.zeros(bias.shape, dtype=acc, device=bias.device) if need_b else None  # [V]
        for s in range(0, hidden.shape[0], ctx.chunk):
            c = slice(s, s + ctx.chunk)
            h, g = hidden[c], g_logp[c, None].to(lse.dtype)  # [c, d], [c, 1]
            x = _chunk_logits(h, weight, bias, ctx.temperature)  # [c, V]
            if ctx.entropy_grad:
                d = _entropy_logit_grad(x, lse[c, None], ent[c, None], g, g_ent[c, None].to(lse.dtype))
            else:
                d = x.sub_(lse[c, None]).exp_().mul_(-g)  # -p * g, [c, V]
            d = d.scatter_add_(-1, targets[c, None], g)  # + onehot * g, [c, V]
            d = (d / ctx.temperature if ctx.temperature != 1.0 else d).to(weight.dtype)
            if need_h:
                g_h[c] = d @ weight  # [c, d]
            if need_w:
                g_w += (d.t() @ h).to(acc)  # [V, d]
            if need_b:
                g_b += d.sum(0).to(acc)
        g_w = g_w.to(weight.dtype) if g_w is not None else None
        g_b = g_b.to(bias.dtype) if g_b is not None else None
        return g_h, g_w, g_b, None, None, None, None, None


def head_logprobs(hidden: Tensor, weight: Tensor, bias: Tensor | None, targets: Tensor, temperature: float = 1.0,
                  chunk_tokens: int = 1024, with_entropy: bool = False,
                  entropy_grad: bool = False) -> tuple[Tensor, Tensor | None]:
    """(Float[n] logprobs, Float[n] entropies or None) of targets Long[n] under softmax((h W^T + b) / temperature),
    for hidden [n, d], an LM head's weight [V, d] and bias [V] (or None). fp32 for bf16/fp16 weights, else theirs.

    The values of `gather_logprobs(F.linear(hidden, weight, bias), targets, temperature)` (and of
    `entropy_from_logits`), computed `chunk_tokens` positions at a time (<= 0: all at once) in forward and backward.
    Gradients flow to hidden, weight and bias from the logprobs, and from the entropies only with `entropy_grad`
    (an entropy bonus in the loss); without it the entropy is a statistic and the backward is the logprobs' alone."""
    chunk = chunk_tokens if chunk_tokens > 0 else max(hidden.shape[0], 1)
    logp, ent = _HeadLogprobs.apply(hidden, weight, bias, targets.long(), float(temperature), chunk, with_entropy,
                                    entropy_grad)
    return logp, (ent if with_entropy else None)


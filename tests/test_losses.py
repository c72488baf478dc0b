"""Log-probabilities, the clipped PG loss, aggregation, KL estimators and importance weights, against values worked
out by hand; and the invariant that makes micro-batching exact: summed micro-batch losses and gradients equal the
full batch's."""
import math

import pytest
import torch

from r1zero.logprobs import entropy_from_logits, gather_logprobs, head_logprobs, token_logprobs
from r1zero.losses import (aggregate, aggregation_norm, importance_weights, kl_penalty, masked_mean, policy_loss,
                           sft_loss)

LN2 = math.log(2)
NAN = float("nan")


def close(a, b, tol=1e-6):
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), atol=tol, rtol=0)


# ---------------------------------------------------------------------------------------------- log-probabilities


def test_token_logprobs_by_hand():
    # logits [0, 0, ln 2] -> probs [1/4, 1/4, 1/2]; position 0 predicts input_ids[1] = 2: log 1/2
    # at T = 2 the logits are [0, 0, ln2 / 2] -> exp [1, 1, sqrt 2]: p = sqrt2 / (2 + sqrt2) = 0.414214, log -0.881374
    logits = torch.tensor([[[0.0, 0.0, LN2], [5.0, 5.0, 5.0]]])  # [1, 2, 3]; the last position predicts nothing
    ids = torch.tensor([[0, 2]])
    close(token_logprobs(logits, ids), [[-LN2]])
    close(token_logprobs(logits, ids, temperature=2.0), [[-0.881374]])


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("chunk_rows", [1, 2, 16])
def test_token_logprobs_match_naive_log_softmax(temperature, chunk_rows):
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 11, requires_grad=True)
    ids = torch.randint(0, 11, (3, 5))
    naive = torch.log_softmax(logits[:, :-1] / temperature, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    got = token_logprobs(logits, ids, temperature, chunk_rows)
    assert got.shape == (3, 4) and got.dtype == torch.float32
    close(got, naive.detach(), tol=1e-5)
    w = torch.randn(3, 4)
    (g_naive,) = torch.autograd.grad((naive * w).sum(), logits)
    (g_got,) = torch.autograd.grad((got * w).sum(), logits)
    close(g_got, g_naive, tol=1e-5)


def test_token_logprobs_bf16_logits_computed_in_fp32():
    torch.manual_seed(1)
    logits = (torch.randn(2, 4, 50) * 3).to(torch.bfloat16)
    ids = torch.randint(0, 50, (2, 4))
    got = token_logprobs(logits, ids, temperature=0.6)
    naive = torch.log_softmax(logits[:, :-1].float() / 0.6, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    assert got.dtype == torch.float32
    close(got, naive, tol=1e-5)


def test_gather_logprobs_empty_batch():
    assert gather_logprobs(torch.zeros(0, 3, 5), torch.zeros(0, 3, dtype=torch.long)).shape == (0, 3)


def test_entropy_by_hand_and_against_naive():
    # uniform over 4: ln 4;  probs [1/4, 1/4, 1/2]: 2 * (1/4) ln 4 + (1/2) ln 2 = 1.5 ln 2 = 1.039721
    logits = torch.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, LN2, -1e9]]])
    close(entropy_from_logits(logits), [[math.log(4), 1.5 * LN2]], tol=1e-5)
    torch.manual_seed(2)
    x = torch.randn(3, 4, 9)
    p = torch.softmax(x / 0.8, -1)
    close(entropy_from_logits(x, temperature=0.8, chunk_rows=2), -(p * p.log()).sum(-1), tol=1e-5)


# ---------------------------------------------------------------------------------------------- chunked LM head


def _head_case(dtype, bias: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n, d, V = 11, 8, 60
    h = torch.randn(n, d, generator=g).to(dtype).requires_grad_()
    w = (3 * torch.randn(V, d, generator=g)).to(dtype).requires_grad_()  # peaked: entropies far from log V
    b = torch.randn(V, generator=g).to(dtype).requires_grad_() if bias else None
    return h, w, b, torch.randint(0, V, (n,), generator=g), torch.randn(n, generator=g)


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("chunk", [0, 1, 4, 100])
@pytest.mark.parametrize("bias", [False, True])
def test_head_logprobs_match_the_full_logits_in_fp64(temperature, chunk, bias):
    """Values, entropies and gradients (hidden, weight, bias) of the chunked head equal log_softmax over the full
    [n, V] logits, for every chunk size, to fp64 precision."""
    h, w, b, t, gout = _head_case(torch.float64, bias)
    logp, ent = head_logprobs(h, w, b, t, temperature, chunk, with_entropy=True)
    grads = torch.autograd.grad((logp * gout.double()).sum(), [h, w] + ([b] if bias else []))
    x = torch.nn.functional.linear(h, w, b) / temperature  # [n, V]
    ref = torch.log_softmax(x, -1).gather(-1, t[:, None])[:, 0]
    p = torch.softmax(x, -1)
    ref_grads = torch.autograd.grad((ref * gout.double()).sum(), [h, w] + ([b] if bias else []))
    close(logp, ref.detach(), tol=1e-12)
    close(ent, -(p * p.log()).sum(-1).detach(), tol=1e-12)
    for got, want in zip(grads, ref_grads):
        close(got, want, tol=1e-11)


def test_head_logprobs_fp32_and_bf16_against_fp64():
    """fp32: within fp32 rounding of the fp64 values. bf16 weights: the logits are rounded to bf16 as the model's own
    head would round them, then everything is fp32 (outputs fp32, gradients in the weights' dtype)."""
    h64, w64, _, t, gout = _head_case(torch.float64, False, seed=1)
    x64 = h64 @ w64.T
    ref = torch.log_softmax(x64, -1).gather(-1, t[:, None])[:, 0].detach()
    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, 0.15)):
        h, w = h64.detach().to(dtype).requires_grad_(), w64.detach().to(dtype).requires_grad_()
        logp, ent = head_logprobs(h, w, None, t, 1.0, 3, with_entropy=True)
        assert logp.dtype == ent.dtype == torch.float32
        (logp * gout).sum().backward()
        assert h.grad.dtype == w.grad.dtype == dtype
        close(logp.double(), ref, tol=tol)
    bf = (h64.detach().bfloat16() @ w64.detach().bfloat16().T).float()  # what the model's bf16 head returns
    close(head_logprobs(h64.detach().bfloat16(), w64.detach().bfloat16(), None, t, 1.0, 3)[0],
          torch.log_softmax(bf, -1).gather(-1, t[:, None])[:, 0], tol=1e-5)


def test_head_logprobs_empty_and_without_entropy():
    h, w, _, t, _ = _head_case(torch.float32, False)
    logp, ent = head_logprobs(h[:0], w, None, t[:0], 1.0, 4, with_entropy=True)
    assert logp.shape == ent.shape == (0,)
    logp.sum().backward()
    assert float(w.grad.abs().sum()) == 0.0
    with torch.no_grad():
        logp, ent = head_logprobs(h, w, None, t, 0.5, 2)
    assert ent is None and logp.shape == (11,)


# ---------------------------------------------------------------------------------------------- aggregation


def test_aggregate_each_mode_by_hand():
    # x = [[1, 2, 3, pad], [4, pad, pad, pad], [pad x 4]]; pads are NaN: they must be selected away, not multiplied by 0
    x = torch.tensor([[1.0, 2, 3, NAN], [4, NAN, NAN, NAN], [NAN] * 4])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]).bool()
    assert aggregation_norm(mask, "token_mean", 4) == 4  # valid tokens
    assert aggregation_norm(mask, "seq_mean", 4) == 2  # sequences with a valid token
    assert aggregation_norm(mask, "constant", 4) == 12  # 3 sequences x max_new_tokens 4
    close(aggregate(x, mask, "token_mean", 4), 2.5)  # (1 + 2 + 3 + 4) / 4
    close(aggregate(x, mask, "seq_mean", 2), 3.0)  # (mean(1, 2, 3) + mean(4)) / 2 = (2 + 4) / 2
    close(aggregate(x, mask, "constant", 12), 10 / 12)  # (1 + 2 + 3 + 4) / 12
    close(masked_mean(x, mask), 2.5)
    nothing = torch.zeros_like(mask)
    for agg in ("token_mean", "seq_mean"):  # no valid token anywhere: norm 0, loss 0 (not NaN)
        assert aggregate(x, nothing, agg, aggregation_norm(nothing, agg, 4)) == 0.0
    with pytest.raises(ValueError, match="unknown loss_agg"):
        aggregate(x, mask, "mean", 1)
    with pytest.raises(ValueError, match="unknown loss_agg"):
        aggregation_norm(mask, "mean", 1)


def test_sft_loss_by_hand():
    logp = torch.tensor([[math.log(0.5), math.log(0.25), NAN]])
    mask = torch.tensor([[True, True, False]])
    close(sft_loss(logp, mask, 2), 1.5 * LN2)  # (ln 2 + ln 4) / 2
    close(sft_loss(logp, mask, 1, "seq_mean"), 1.5 * LN2)


# ---------------------------------------------------------------------------------------------- policy loss

RATIOS = [0.5, 1.0, 1.25, 1.5]


def _pg(adv, clip_low=0.2, clip_high=0.28, ratios=RATIOS):
    logp = torch.tensor([[math.log(r) for r in ratios]], requires_grad=True)  # old_logp = 0 -> ratio = r
    mask = torch.ones(1, len(ratios), dtype=torch.bool)
    loss, stats = policy_loss(logp, torch.zeros_like(logp), torch.tensor([adv]), mask, clip_low, clip_high,
                              "token_mean", len(ratios))
    (grad,) = torch.autograd.grad(loss, logp)
    return loss, stats, grad


def test_policy_loss_positive_advantage_clips_high_side():
    # A = +1, range [0.8, 1.28]: x = -min(r, clip(r)) = [-0.5, -1, -1.25, -1.28]; mean = -4.03 / 4 = -1.0075
    # only r = 1.5 is clipped (no gradient there); elsewhere d x / d logp = -A r -> grad [-0.5, -1, -1.25, 0] / 4
    loss, stats, grad = _pg(1.0)
    close(loss, -4.03 / 4)
    close(grad, [[-0.125, -0.25, -0.3125, 0.0]])
    close(stats["policy/clip_frac"], 0.25)
    close(stats["policy/clip_high_frac"], 0.25)
    close(stats["policy/clip_low_frac"], 0.0)
    close(stats["policy/ratio_mean"], 4.25 / 4)
    close(stats["policy/ratio_min"], 0.5)
    close(stats["policy/ratio_max"], 1.5)


def test_policy_loss_negative_advantage_clips_low_side():
    # A = -1: x = -min(-r, -clip(r)) = max(r, clip(r)) = [0.8, 1, 1.25, 1.5]; mean = 4.55 / 4
    # r = 0.5 is clipped (0.8 is a constant): grad [0, 1, 1.25, 1.5] / 4
    loss, stats, grad = _pg(-1.0)
    close(loss, 4.55 / 4)
    close(grad, [[0.0, 0.25, 0.3125, 0.375]])
    close(stats["policy/clip_frac"], 0.25)
    close(stats["policy/clip_low_frac"], 0.25)
    close(stats["policy/clip_high_frac"], 0.0)


def test_clip_higher_is_asymmetric():
    # r = 1.25, A = +1: symmetric 0.2 clips at 1.2 (x = -1.2, no gradient); clip_high 0.28 leaves it (x = -1.25)
    loss, stats, grad = _pg(1.0, 0.2, 0.2, [1.25])
    close(loss, -1.2)
    close(grad, [[0.0]])
    assert stats["policy/clip_frac"] == 1.0
    loss, stats, grad = _pg(1.0, 0.2, 0.28, [1.25])
    close(loss, -1.25)
    close(grad, [[-1.25]])
    assert stats["policy/clip_frac"] == 0.0
    # the low side follows clip_low alone: r = 0.75, A = -1: clip_low 0.2 -> max(0.75, 0.8) = 0.8; clip_low 0.3 -> 0.75
    close(_pg(-1.0, 0.2, 0.28, [0.75])[0], 0.8)
    close(_pg(-1.0, 0.3, 0.28, [0.75])[0], 0.75)


def test_policy_loss_on_policy_is_plain_policy_gradient():
    # mu = 1: old_logp = logp.detach(), ratio 1: loss = -mean(A), d loss / d logp = -A / norm
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)
    mask = torch.ones(2, 2, dtype=torch.bool)
    loss, stats = policy_loss(logp, logp.detach(), torch.tensor([2.0, -1.0]), mask, 0.2, 0.2, "token_mean", 4)
    close(loss, -(2 + 2 - 1 - 1) / 4)
    (grad,) = torch.autograd.grad(loss, logp)
    close(grad, [[-0.5, -0.5], [0.25, 0.25]])
    assert stats["policy/clip_frac"] == 0.0 and stats["policy/ratio_mean"] == 1.0


def test_policy_loss_is_weights_and_per_token_advantages():
    # ratio 1, A = +1: x = -1 per token; weights [2, 0.5] -> [-2, -0.5]; token_mean / 2 = -1.25
    logp = torch.zeros(1, 2, requires_grad=True)
    mask = torch.ones(1, 2, dtype=torch.bool)
    w = torch.tensor([[2.0, 0.5]], requires_grad=True)
    loss, _ = policy_loss(logp, logp.detach(), torch.ones(1), mask, 0.2, 0.2, "token_mean", 2, is_weights=w)
    close(loss, -1.25)
    loss.backward()
    assert w.grad is None  # weights are detached
    loss, _ = policy_loss(logp, logp.detach(), torch.tensor([[1.0, -3.0]]), mask, 0.2, 0.2, "token_mean", 2)
    close(loss, 1.0)  # (-1 + 3) / 2


def test_policy_loss_finite_with_garbage_padding_and_huge_ratios():
    # a padding position with old_logp = -1e4 (exp overflows if not selected away) and a valid token with log-ratio 100
    logp = torch.tensor([[100.0, 0.0]], requires_grad=True)
    old = torch.tensor([[0.0, -1e4]])
    mask = torch.tensor([[True, False]])
    loss, stats = policy_loss(logp, old, torch.tensor([-1.0]), mask, 0.2, 0.2, "token_mean", 1)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logp.grad).all()
    close(stats["policy/ratio_max"], math.exp(20.0), tol=1e3)  # log-ratio clamped at 20


def test_policy_loss_stats_with_no_valid_token():
    logp = torch.zeros(1, 3)
    loss, stats = policy_loss(logp, logp, torch.ones(1), torch.zeros(1, 3, dtype=torch.bool), 0.2, 0.2, "seq_mean", 1)
    assert loss == 0.0
    assert stats["policy/clip_frac"] == 0.0 and stats["policy/ratio_min"] == 1.0 and stats["policy/ratio_max"] == 1.0


# ---------------------------------------------------------------------------------------------- KL


def test_kl_estimators_by_hand():
    # p = 1/2, p_ref = 1/4: log r = ln 2;  k1 = ln 2, k2 = (ln 2)^2 / 2 = 0.240227, k3 = 1/2 + ln 2 - 1 = 0.193147
    # p = 1/4, p_ref = 1/2: log r = -ln 2; k1 = -ln 2 (k1 can be negative), k2 same, k3 = 2 - ln 2 - 1 = 0.306853
    logp = torch.tensor([[math.log(0.5), math.log(0.25)]])
    ref = torch.tensor([[math.log(0.25), math.log(0.5)]])
    close(kl_penalty(logp, ref, "k1"), [[LN2, -LN2]])
    close(kl_penalty(logp, ref, "k2"), [[0.240227, 0.240227]])
    close(kl_penalty(logp, ref, "k3"), [[0.193147, 0.306853]])
    with pytest.raises(ValueError, match="unknown KL estimator"):
        kl_penalty(logp, ref, "k4")


def test_k3_gradient_by_hand():
    # d k3 / d logp = 1 - exp(ref - logp) = 1 - 1/2 at p = 1/2, p_ref = 1/4; ref gets no gradient
    logp = torch.tensor([math.log(0.5)], requires_grad=True)
    ref = torch.tensor([math.log(0.25)], requires_grad=True)
    kl_penalty(logp, ref, "k3").sum().backward()
    close(logp.grad, [0.5])
    assert ref.grad is None


def test_kl_estimators_expectation_and_sign():
    # over x ~ p, E[k1] = E[k3] = KL(p || q) > 0 exactly (unbiased); k2 is biased; k2, k3 >= 0 everywhere
    torch.manual_seed(3)
    logp = torch.log_softmax(torch.randn(6), -1)
    logq = torch.log_softmax(torch.randn(6), -1)
    kl = (logp.exp() * (logp - logq)).sum()
    p = logp.exp()
    assert kl > 0
    close((p * kl_penalty(logp, logq, "k1")).sum(), kl, tol=1e-6)
    close((p * kl_penalty(logp, logq, "k3")).sum(), kl, tol=1e-6)
    assert abs((p * kl_penalty(logp, logq, "k2")).sum() - kl) > 1e-4
    a, b = torch.randn(1000) * 3, torch.randn(1000) * 3
    assert (kl_penalty(a, b, "k3") >= 0).all() and (kl_penalty(a, b, "k2") >= 0).all()
    assert (kl_penalty(a, b, "k1") < 0).any()
    assert torch.isfinite(kl_penalty(torch.tensor([0.0]), torch.tensor([1e4]), "k3")).all()


# ---------------------------------------------------------------------------------------------- importance weights

TRAINER = torch.tensor([[0.0, math.log(3), math.log(0.25), math.log(0.5), 50.0]])  # sampler logp 0: ratio = exp
IS_MASK = torch.tensor([[True, True, True, True, False]])  # the last token is padding (ratio e^50 must not show)


def test_importance_weights_truncate():
    # ratios [1, 3, 0.25, 0.5 | pad], cap 2: TIS min(r, 2) = [1, 2, 0.25, 0.5, 0]; one of 4 truncated
    w, s = importance_weights(TRAINER, torch.zeros(1, 5), IS_MASK, "truncate", 2.0)
    close(w, [[1, 2, 0.25, 0.5, 0]])
    close(s["sampling/is_ratio_mean"], (1 + 3 + 0.25 + 0.5) / 4)
    close(s["sampling/is_ratio_max"], 3.0, tol=1e-5)
    close(s["sampling/is_ratio_min"], 0.25)
    close(s["sampling/is_clipped_frac"], 0.25)


def test_importance_weights_mask_and_off():
    # mask, cap 2: keep r in [1/2, 2]: [1, 0, 0, 0.5, 0] (0.5 == 1/cap is kept); 2 of 4 masked
    w, s = importance_weights(TRAINER, torch.zeros(1, 5), IS_MASK, "mask", 2.0)
    close(w, [[1, 0, 0, 0.5, 0]])
    close(s["sampling/is_clipped_frac"], 0.5)
    w, s = importance_weights(TRAINER, torch.zeros(1, 5), IS_MASK, "off", 2.0)
    close(w, [[1, 1, 1, 1, 0]])
    close(s["sampling/is_clipped_frac"], 0.0)
    close(s["sampling/is_ratio_max"], 3.0, tol=1e-5)  # the mismatch is still measured


def test_importance_weights_detached_and_validated():
    t = TRAINER.clone().requires_grad_(True)
    w, _ = importance_weights(t, torch.zeros(1, 5), IS_MASK, "truncate", 2.0)
    assert not w.requires_grad
    with pytest.raises(ValueError, match="cap must be >= 1"):
        importance_weights(TRAINER, torch.zeros(1, 5), IS_MASK, "mask", 0.5)
    with pytest.raises(ValueError, match="unknown importance-sampling mode"):
        importance_weights(TRAINER, torch.zeros(1, 5), IS_MASK, "clip", 2.0)


# ---------------------------------------------------------------------------------------------- micro-batching


def _global_batch():
    """8 sequences of 7 tokens (6 predicted positions), ragged masks incl. one empty row, float64 for exactness."""
    g = torch.Generator().manual_seed(4)
    n, t, v = 8, 7, 5
    logits = torch.randn(n, t, v, generator=g, dtype=torch.float64)
    ids = torch.randint(0, v, (n, t), generator=g)
    lengths = torch.tensor([6, 1, 3, 0, 5, 2, 6, 4])
    mask = torch.arange(t - 1)[None, :] < lengths[:, None]  # [8, 6]
    with torch.no_grad():
        old = token_logprobs(logits, ids) + 0.3 * torch.randn(n, t - 1, generator=g, dtype=torch.float64)
    ref = old + 0.2 * torch.randn(n, t - 1, generator=g, dtype=torch.float64)
    sampler = old + 0.2 * torch.randn(n, t - 1, generator=g, dtype=torch.float64)
    adv = torch.randn(n, generator=g, dtype=torch.float64)
    return logits, ids, mask, old, ref, sampler, adv


def _loss(logits, ids, mask, old, ref, sampler, adv, loss_agg, norm):
    logp = token_logprobs(logits, ids)
    w, _ = importance_weights(old, sampler, mask, "truncate", 1.2)
    pg, _ = policy_loss(logp, old, adv, mask, 0.2, 0.28, loss_agg, norm, is_weights=w)
    return pg + 0.1 * aggregate(kl_penalty(logp, ref, "k3"), mask, loss_agg, norm) + 0.01 * sft_loss(logp, mask, norm,
                                                                                                    loss_agg)


@pytest.mark.parametrize("loss_agg", ["token_mean", "seq_mean", "constant"])
@pytest.mark.parametrize("sizes", [[8], [1] * 8, [2, 2, 2, 2], [3, 3, 2]])
def test_micro_batch_sum_equals_full_batch(loss_agg, sizes):
    logits, ids, mask, old, ref, sampler, adv = _global_batch()
    norm = aggregation_norm(mask, loss_agg, 6)
    full_param = logits.clone().requires_grad_(True)
    full = _loss(full_param, ids, mask, old, ref, sampler, adv, loss_agg, norm)
    full.backward()

    param = logits.clone().requires_grad_(True)
    total, start = 0.0, 0
    for size in sizes:  # gradient accumulation: each micro-batch's loss uses the global norm, grads just add
        sl = slice(start, start + size)
        micro = _loss(param[sl], ids[sl], mask[sl], old[sl], ref[sl], sampler[sl], adv[sl], loss_agg, norm)
        micro.backward()
        total, start = total + micro.detach(), start + size
    close(total, full.detach(), tol=1e-12)
    close(param.grad, full_param.grad, tol=1e-12)
    assert full_param.grad.abs().sum() > 0


def test_rank_norms_add_up_to_the_global_norm():
    _, _, mask, *_ = _global_batch()
    for loss_agg in ("token_mean", "seq_mean", "constant"):
        per_rank = aggregation_norm(mask[:3], loss_agg, 6) + aggregation_norm(mask[3:], loss_agg, 6)
        assert per_rank == aggregation_norm(mask, loss_agg, 6)


def test_full_batch_aggregations_are_the_textbook_means():
    # token_mean = mean over all valid tokens; seq_mean = mean over sequences of per-sequence means
    _, _, mask, old, *_ = _global_batch()
    x = old.abs()
    close(aggregate(x, mask, "token_mean", aggregation_norm(mask, "token_mean", 6)), x[mask].mean(), tol=1e-12)
    rows = [x[i][mask[i]].mean() for i in range(8) if mask[i].any()]
    close(aggregate(x, mask, "seq_mean", aggregation_norm(mask, "seq_mean", 6)), torch.stack(rows).mean(), tol=1e-12)
    close(aggregate(x, mask, "constant", aggregation_norm(mask, "constant", 6)), x[mask].sum() / 48, tol=1e-12)

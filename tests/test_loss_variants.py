"""The policy-gradient forms (gspo, cispo), the sequence-level importance weights and the entropy's gradient, against
values and gradients worked out by hand (and against autograd through the closed forms of the papers)."""
import math

import pytest
import torch

from r1zero.logprobs import head_logprobs
from r1zero.losses import PG_LOSSES, cispo_loss, gspo_loss, importance_weights, policy_loss

LN2 = math.log(2)


def close(a, b, tol=1e-6):
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), atol=tol, rtol=0)


def test_the_forms_are_registered_with_clip_first():
    assert tuple(PG_LOSSES) == ("clip", "gspo", "cispo") and PG_LOSSES["clip"] is policy_loss


# ---------------------------------------------------------------------------------------------- gspo

# 2 sequences, old_logp 0 on the valid tokens. Row 0: 3 tokens, mean log-ratio (0.3 - 0.1 + 0.1) / 3 = 0.1,
# s0 = e^0.1 = 1.105171 (inside [0.8, 1.28]). Row 1: 2 tokens and a padding position whose values must not count,
# mean (0.6 + 0) / 2 = 0.3, s1 = e^0.3 = 1.349859 > 1.28 with A = 2 > 0: clipped, no gradient for the sequence.
GSPO_LOGP = [[0.3, -0.1, 0.1], [0.6, 0.0, 5.0]]
GSPO_OLD = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -7.0]])
GSPO_MASK = torch.tensor([[True, True, True], [True, True, False]])
GSPO_ADV = torch.tensor([1.0, 2.0])
S0, S1 = math.exp(0.1), math.exp(0.3)


def _gspo(loss_agg, norm):
    logp = torch.tensor(GSPO_LOGP, dtype=torch.float64, requires_grad=True)
    loss, stats = gspo_loss(logp, GSPO_OLD.double(), GSPO_ADV.double(), GSPO_MASK, 0.2, 0.28, loss_agg, norm)
    (grad,) = torch.autograd.grad(loss, logp)
    return loss, stats, grad


def test_gspo_by_hand_seq_mean():
    # per token x = -A s: row 0 -1.105171 (x3), row 1 clipped: -2 * 1.28 = -2.56 (x2)
    # seq_mean / 2 sequences: (-1.105171 - 2.56) / 2 = -1.832585
    # d/dlogp_0t = -A0 s0 / (n0 * norm) = -1.105171 / 6 = -0.184195; row 1 (clipped) and the padding: 0
    loss, stats, grad = _gspo("seq_mean", 2)
    close(loss, (-S0 - 2.56) / 2, tol=1e-12)
    close(grad, [[-S0 / 6] * 3, [0.0, 0.0, 0.0]], tol=1e-12)
    # clip stats per token: 2 of the 5 valid tokens (row 1) are clipped high; the ratio is s_i at every token
    close(stats["policy/clip_frac"], 0.4)
    close(stats["policy/clip_high_frac"], 0.4)
    close(stats["policy/clip_low_frac"], 0.0)
    close(stats["policy/ratio_mean"], (3 * S0 + 2 * S1) / 5, tol=1e-9)
    close(stats["policy/ratio_min"], S0, tol=1e-12)
    close(stats["policy/ratio_max"], S1, tol=1e-12)


def test_gspo_gradient_is_the_sequence_objectives():
    # the paper's sequence objective J = mean_i min(s_i A_i, clip(s_i) A_i), s_i = exp(mean_t log-ratio), through
    # autograd: with seq_mean and one advantage per sequence, the token form has exactly its gradient
    logp = torch.tensor(GSPO_LOGP, dtype=torch.float64, requires_grad=True)
    m = GSPO_MASK
    s = torch.exp(torch.where(m, logp - GSPO_OLD.double(), 0.0).sum(-1) / m.sum(-1))  # [2]
    a = GSPO_ADV.double()
    j = torch.minimum(s * a, s.clamp(0.8, 1.28) * a).mean()
    (want,) = torch.autograd.grad(-j, logp)
    loss, _, grad = _gspo("seq_mean", 2)
    close(grad, want, tol=1e-12)
    close(loss, -j.detach(), tol=1e-12)


def test_gspo_token_mean_and_negative_advantage_clipped_low():
    # token_mean / 5 tokens: (3 * -1.105171 + 2 * -2.56) / 5 = -1.687103; d/dlogp_0t = -s0 / 5 = -0.221034
    loss, _, grad = _gspo("token_mean", 5)
    close(loss, (-3 * S0 - 5.12) / 5, tol=1e-12)
    close(grad, [[-S0 / 5] * 3, [0.0] * 3], tol=1e-12)
    # s = e^-0.3 = 0.740818 < 0.8 with A = -1: the clipped branch -A * 0.8 = 0.8 is the larger: loss 0.8, no gradient
    logp = torch.tensor([[-0.3, -0.3]], requires_grad=True)
    loss, stats = gspo_loss(logp, torch.zeros(1, 2), torch.tensor([-1.0]), torch.ones(1, 2, dtype=torch.bool),
                            0.2, 0.28, "token_mean", 2)
    (grad,) = torch.autograd.grad(loss, logp)
    close(loss, 0.8)
    close(grad, [[0.0, 0.0]])
    close(stats["policy/clip_low_frac"], 1.0)


def test_gspo_on_policy_is_the_clipped_forms_gradient():
    # ratio 1 everywhere: s = 1 and both forms are -A per token, gradient -A / norm
    logp = torch.tensor([[-1.0, -2.0, 0.5], [-0.5, -3.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[True, True, True], [True, False, False]])
    adv = torch.tensor([2.0, -1.0])
    grads = []
    for fn in (policy_loss, gspo_loss):
        loss, _ = fn(logp, logp.detach(), adv, mask, 0.2, 0.2, "token_mean", 4)
        close(loss, (-2 * 3 + 1) / 4)
        grads.append(torch.autograd.grad(loss, logp)[0])
    close(grads[0], [[-0.5, -0.5, -0.5], [0.25, 0.0, 0.0]])
    close(grads[1], grads[0])


# ---------------------------------------------------------------------------------------------- cispo

RATIOS = [0.5, 1.0, 1.25, 1.5]  # old_logp 0, logp = ln r; clip range [0.8, 1.28]: weights [0.8, 1, 1.25, 1.28]
W = [0.8, 1.0, 1.25, 1.28]


@pytest.mark.parametrize("adv", [1.0, -1.0])
def test_cispo_by_hand_every_token_keeps_its_gradient(adv):
    # x_t = -w_t A ln r_t: A = 1: [0.8 ln 2, 0, -1.25 ln 1.25, -1.28 ln 1.5] = [0.554518, 0, -0.278929, -0.518995]
    # token_mean / 4 = -0.060852; d x_t / d logp_t = -w_t A / 4 = [-0.2, -0.25, -0.3125, -0.32] (no zero: the token
    # at ratio 1.5 > 1.28 still learns, where the clipped form gives it 0)
    logp = torch.tensor([[math.log(r) for r in RATIOS]], requires_grad=True)
    mask = torch.ones(1, 4, dtype=torch.bool)
    loss, stats = cispo_loss(logp, torch.zeros(1, 4), torch.tensor([adv]), mask, 0.2, 0.28, "token_mean", 4)
    (grad,) = torch.autograd.grad(loss, logp)
    close(loss, adv * (0.8 * LN2 - 1.25 * math.log(1.25) - 1.28 * math.log(1.5)) / 4)
    close(grad, [[-w * adv / 4 for w in W]])
    # the weight is clipped on tokens 0 (low) and 3 (high), whatever the advantage's sign
    close(stats["policy/clip_low_frac"], 0.25)
    close(stats["policy/clip_high_frac"], 0.25)
    close(stats["policy/clip_frac"], 0.5)
    close(stats["policy/ratio_max"], 1.5)
    clip_grad = torch.autograd.grad(policy_loss(logp, torch.zeros(1, 4), torch.tensor([adv]), mask, 0.2, 0.28,
                                                "token_mean", 4)[0], logp)[0]
    assert (clip_grad == 0).any() and (grad != 0).all()


def test_cispo_weights_padding_and_importance_weights():
    # a padding position with garbage is selected away; is_weights [2, 0.5] multiply x: ratio 1, A = 1, logp = -1:
    # x = [1, 1] * [2, 0.5] = [2, 0.5], token_mean / 2 = 1.25; gradient -w * A * is_w / 2 = [-1, -0.25]
    logp = torch.tensor([[-1.0, -1.0, 3.0]], requires_grad=True)
    mask = torch.tensor([[True, True, False]])
    is_w = torch.tensor([[2.0, 0.5, 7.0]])
    loss, _ = cispo_loss(logp, logp.detach(), torch.ones(1), mask, 0.2, 0.2, "token_mean", 2, is_weights=is_w)
    (grad,) = torch.autograd.grad(loss, logp)
    close(loss, 1.25)
    close(grad, [[-1.0, -0.25, 0.0]])


def test_cispo_on_policy_has_the_clipped_forms_gradient():
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -3.0]], requires_grad=True)
    mask = torch.ones(2, 2, dtype=torch.bool)
    adv = torch.tensor([2.0, -1.0])
    grads = [torch.autograd.grad(fn(logp, logp.detach(), adv, mask, 0.2, 0.2, "seq_mean", 2)[0], logp)[0]
             for fn in (policy_loss, cispo_loss)]
    close(grads[1], grads[0])
    close(grads[1], [[-0.5, -0.5], [0.25, 0.25]])


# ---------------------------------------------------------------------------------------------- IS levels

# sampler logp 0, so the token ratios are exp(trainer). Row 0: [1, 3, 0.25, 0.5] + padding (e^50 must not count):
# product 0.375, geometric mean 0.375^(1/4) = 0.782542. Row 1: [2, 2] + padding: product 4, geometric mean 2.
# Row 2: no valid token (weight 0, in no statistic).
IS_TRAINER = torch.tensor([[0.0, math.log(3), math.log(0.25), math.log(0.5), 50.0],
                           [LN2, LN2, 50.0, -50.0, 50.0],
                           [9.0, 9.0, 9.0, 9.0, 9.0]])
IS_MASK = torch.tensor([[True] * 4 + [False], [True, True, False, False, False], [False] * 5])
GEO0 = 0.375 ** 0.25


def _rows(w0, w1):
    return [[w0] * 4 + [0.0], [w1] * 2 + [0.0] * 3, [0.0] * 5]


@pytest.mark.parametrize("level, mode, cap, w0, w1, clipped, mean, lo, hi", [
    # sequence: ratios 0.375 and 4 (the product); truncate at 2: [0.375, 2], one of two sequences changed
    ("sequence", "truncate", 2.0, 0.375, 2.0, 0.5, (0.375 + 4) / 2, 0.375, 4.0),
    # mask at 2 keeps [1/2, 2]: 0.375 < 0.5 and 4 > 2, both sequences dropped whole
    ("sequence", "mask", 2.0, 0.0, 0.0, 1.0, (0.375 + 4) / 2, 0.375, 4.0),
    ("sequence", "off", 2.0, 1.0, 1.0, 0.0, (0.375 + 4) / 2, 0.375, 4.0),
    # geo_mean: ratios 0.782542 and 2; truncate at 1.5: [0.782542, 1.5]; mask keeps [2/3, 1.5]: [0.782542, 0]
    ("geo_mean", "truncate", 1.5, GEO0, 1.5, 0.5, (GEO0 + 2) / 2, GEO0, 2.0),
    ("geo_mean", "mask", 1.5, GEO0, 0.0, 0.5, (GEO0 + 2) / 2, GEO0, 2.0),
    ("geo_mean", "truncate", 2.0, GEO0, 2.0, 0.0, (GEO0 + 2) / 2, GEO0, 2.0),  # 2 == cap is not truncated
])
def test_sequence_level_importance_weights_by_hand(level, mode, cap, w0, w1, clipped, mean, lo, hi):
    w, s = importance_weights(IS_TRAINER, torch.zeros(3, 5), IS_MASK, mode, cap, level)
    close(w, _rows(w0, w1), tol=1e-5)
    assert not w.requires_grad
    close(s["sampling/is_clipped_frac"], clipped)  # share of the 2 sequences with a valid token
    close(s["sampling/is_ratio_mean"], mean, tol=1e-5)
    close(s["sampling/is_ratio_min"], lo, tol=1e-5)
    close(s["sampling/is_ratio_max"], hi, tol=1e-5)


def test_token_level_is_the_default_and_levels_are_checked():
    a = importance_weights(IS_TRAINER, torch.zeros(3, 5), IS_MASK, "truncate", 2.0)
    b = importance_weights(IS_TRAINER, torch.zeros(3, 5), IS_MASK, "truncate", 2.0, "token")
    assert torch.equal(a[0], b[0]) and all(torch.equal(a[1][k], b[1][k]) for k in a[1])
    close(a[0], [[1, 2, 0.25, 0.5, 0], [2, 2, 0, 0, 0], [0] * 5], tol=1e-6)
    with pytest.raises(ValueError, match="unknown importance-sampling level"):
        importance_weights(IS_TRAINER, torch.zeros(3, 5), IS_MASK, "truncate", 2.0, "batch")


def test_sequence_log_weight_is_clamped():
    # 40 tokens at log-ratio 1: the product e^40 is clamped to e^20 before exp, finite; geo_mean is e^1
    t = torch.ones(1, 40)
    w, s = importance_weights(t, torch.zeros(1, 40), torch.ones(1, 40, dtype=torch.bool), "off", 2.0, "sequence")
    close(s["sampling/is_ratio_max"], math.exp(20.0), tol=1e3)
    w, s = importance_weights(t, torch.zeros(1, 40), torch.ones(1, 40, dtype=torch.bool), "truncate", 2.0,
                              "geo_mean")
    close(s["sampling/is_ratio_max"], math.e, tol=1e-5)
    close(w, torch.full((1, 40), 2.0))


# ---------------------------------------------------------------------------------------------- entropy gradient


def test_entropy_gradient_by_hand():
    # logits [0, 0, ln 2] (h = [1], W = [0, 0, ln 2]^T): p = [1/4, 1/4, 1/2], H = 1.5 ln 2 = 1.039721,
    # dH/dx_v = -p_v (log p_v + H): log p + H = [-ln4 + 1.5 ln2, same, -ln2 + 1.5 ln2] = [-0.346574, -0.346574,
    # 0.346574] -> dH/dx = [0.086643, 0.086643, -0.173287]; dH/dW = dH/dx * h, dH/dh = dH/dx . W = -0.173287 ln 2
    h = torch.tensor([[1.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[0.0], [0.0], [LN2]], dtype=torch.float64, requires_grad=True)
    logp, ent = head_logprobs(h, w, None, torch.tensor([2]), 1.0, 4, with_entropy=True, entropy_grad=True)
    close(ent, [1.5 * LN2], tol=1e-12)
    g_h, g_w = torch.autograd.grad(ent.sum(), [h, w])
    dx = [0.25 * LN2 / 2, 0.25 * LN2 / 2, -0.5 * LN2 / 2]  # -p (log p + H) = -p * [-ln2/2, -ln2/2, ln2/2]
    close(g_w, [[v] for v in dx], tol=1e-12)
    close(g_h, [[dx[2] * LN2]], tol=1e-12)
    _, ent = head_logprobs(h, w, None, torch.tensor([2]), 1.0, 4, with_entropy=True)
    assert not ent.requires_grad  # without entropy_grad the entropy stays a statistic


@pytest.mark.parametrize("temperature", [1.0, 0.7])
@pytest.mark.parametrize("chunk", [0, 1, 4])
def test_entropy_gradient_matches_the_full_logits(temperature, chunk):
    g = torch.Generator().manual_seed(5)
    n, d, v = 9, 6, 40
    h = torch.randn(n, d, generator=g, dtype=torch.float64).requires_grad_()
    w = (3 * torch.randn(v, d, generator=g, dtype=torch.float64)).requires_grad_()
    b = torch.randn(v, generator=g, dtype=torch.float64).requires_grad_()
    t = torch.randint(0, v, (n,), generator=g)
    g_lp, g_ent = torch.randn(n, generator=g, dtype=torch.float64), torch.randn(n, generator=g, dtype=torch.float64)
    logp, ent = head_logprobs(h, w, b, t, temperature, chunk, with_entropy=True, entropy_grad=True)
    got = torch.autograd.grad((logp * g_lp + ent * g_ent).sum(), [h, w, b])
    x = torch.nn.functional.linear(h, w, b) / temperature  # [n, V]
    lp = torch.log_softmax(x, -1)
    ref = (lp.gather(-1, t[:, None])[:, 0] * g_lp - (lp.exp() * lp).sum(-1) * g_ent).sum()
    for a, want in zip(got, torch.autograd.grad(ref, [h, w, b])):
        close(a, want, tol=1e-11)

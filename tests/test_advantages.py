"""Advantages, overlong penalty and dynamic sampling against values worked out by hand."""
import math

import pytest
import torch

from r1zero.advantages import (dynamic_sampling_keep, frac_zero_std, group_advantages, overlong_soft_penalty,
                               zero_std_groups)

# B = 3 prompts x G = 4 completions, prompt-major.
#   group 0: [1, 0, 0, 1]  mean 0.5,  centred [.5, -.5, -.5, .5],  sum sq 1,    unbiased var 1/3,  std 0.577350
#   group 1: [1, 1, 1, 1]  all equal: advantage 0
#   group 2: [0, 0, 0, 3]  mean 0.75, centred [-.75, -.75, -.75, 2.25], sum sq 6.75, var 2.25, std 1.5
REWARDS = torch.tensor([1.0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 3])
CENTRED = [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, -0.75, -0.75, -0.75, 2.25]


def close(a, b, tol=1e-5):
    torch.testing.assert_close(a, torch.as_tensor(b, dtype=a.dtype), atol=tol, rtol=0)


def test_grpo_by_hand():
    s3 = math.sqrt(3) / 2  # 0.5 / sqrt(1/3) = 0.866025
    close(group_advantages(REWARDS, 4, "grpo", eps=0.0),
          [s3, -s3, -s3, s3, 0, 0, 0, 0, -0.5, -0.5, -0.5, 1.5])
    # default eps = 1e-6 only nudges the scale: 0.5 / (0.577350 + 1e-6) = 0.866024
    close(group_advantages(REWARDS, 4, "grpo")[:4], [0.866024, -0.866024, -0.866024, 0.866024], tol=1e-6)


def test_drgrpo_is_centred_rewards():
    close(group_advantages(REWARDS, 4, "drgrpo"), CENTRED)


def test_batch_group_mean_batch_std():
    # one scale for the batch: unbiased std of the 12 centred values: sum sq = 1 + 0 + 6.75 = 7.75,
    # var = 7.75 / 11 = 0.704545, std = 0.839372;  0.5 / s = 0.595683, 0.75 / s = 0.893525, 2.25 / s = 2.680575
    a, b, c = 0.595683, 0.893525, 2.680575
    close(group_advantages(REWARDS, 4, "batch", eps=0.0), [a, -a, -a, a, 0, 0, 0, 0, -b, -b, -b, c])


def test_batch_with_one_completion_per_prompt_uses_batch_mean():
    # G = 1: [1, 0, 0, 1] is one group of 4: mean 0.5, unbiased std 0.577350 -> +-0.866025
    s3 = 0.866025
    close(group_advantages(torch.tensor([1.0, 0, 0, 1]), 1, "batch", eps=0.0), [s3, -s3, -s3, s3])
    close(group_advantages(torch.tensor([2.0]), 1, "batch"), [0.0])


def test_rloo_by_hand():
    # leave-one-out: group 0 [1, 0, 0, 1]: 1 - (0 + 0 + 1) / 3 = 2/3, 0 - 2/3 = -2/3  (= 4/3 * centred +-0.5)
    # group 2 [0, 0, 0, 3]: 0 - 3/3 = -1 (x3), 3 - 0 = 3  (= 4/3 * [-0.75, 2.25])
    t = 2 / 3
    close(group_advantages(REWARDS, 4, "rloo"), [t, -t, -t, t, 0, 0, 0, 0, -1, -1, -1, 3])
    close(group_advantages(torch.tensor([2.0, 5.0]), 2, "rloo"), [-3.0, 3.0])  # G = 2: r_i - r_other


def test_reinforce_pp_by_hand():
    # REINFORCE++: the 12 rewards whitened over the batch, no group baseline. mean = 9 / 12 = 0.75;
    # sum sq of (r - 0.75): 1s: 6 x 0.0625 = 0.375, 0s: 5 x 0.5625 = 2.8125, the 3: 5.0625 -> 8.25;
    # unbiased var 8.25 / 11 = 0.75, std 0.866025: 1 -> 0.288675, 0 -> -0.866025, 3 -> 2.598076.
    # The all-equal group 1 [1, 1, 1, 1] is NOT zeroed: those completions are above the batch mean
    a, b, c = 0.288675, -0.866025, 2.598076
    close(group_advantages(REWARDS, 4, "reinforce_pp", eps=0.0), [a, b, b, a, a, a, a, a, b, b, b, c])
    # one scale for any G: G = 1 and G = 12 give the same values; an all-equal batch is exactly 0
    close(group_advantages(REWARDS, 1, "reinforce_pp", eps=0.0), group_advantages(REWARDS, 12, "reinforce_pp", eps=0.0))
    assert torch.equal(group_advantages(torch.full((8,), 0.1), 4, "reinforce_pp"), torch.zeros(8))


@pytest.mark.parametrize("mode", ["grpo", "drgrpo", "batch", "rloo"])
def test_all_equal_groups_give_exact_zero_not_nan(mode):
    # 0.1 is not exact in binary: the fp32 mean of eight 0.1s is off by 7.5e-9, the std is ~8e-9, and without the
    # explicit zeroing grpo would give (-7.5e-9) / (8e-9 + 1e-6) = -0.0074 to every completion of that group
    r = torch.tensor([0.1] * 8 + [0.7] * 8)
    adv = group_advantages(r, 8, mode)
    assert torch.equal(adv, torch.zeros(16))
    assert torch.equal(group_advantages(torch.ones(8), 4, mode), torch.zeros(8))


def test_all_equal_batch_with_one_completion_per_prompt_gives_exact_zero():
    # G = 1 takes the whole batch as the group: seven 0.1s gave -0.0074 each before (mean off by rounding, / eps)
    for value, n in ((0.1, 7), (0.7, 7), (0.3, 6)):
        assert torch.equal(group_advantages(torch.full((n,), value), 1, "batch"), torch.zeros(n))


def test_group_advantages_sum_to_zero_per_group():
    r = torch.rand(40)
    for mode in ("grpo", "drgrpo", "batch", "rloo"):
        assert group_advantages(r, 8, mode).view(5, 8).sum(1).abs().max() < 1e-5
    assert group_advantages(r, 8, "reinforce_pp").sum().abs() < 1e-4  # its zero sum is the batch's


def test_bad_inputs_raise():
    for mode in ("grpo", "rloo"):
        with pytest.raises(ValueError, match="group_size >= 2"):
            group_advantages(torch.ones(4), 1, mode)
    with pytest.raises(ValueError, match="unknown advantage mode"):
        group_advantages(torch.ones(4), 2, "ppo")
    with pytest.raises(ValueError, match="whole number of groups"):
        group_advantages(torch.ones(5), 2, "grpo")
    with pytest.raises(ValueError, match="1-D"):
        group_advantages(torch.ones(2, 2), 2, "grpo")


def test_zero_std_groups_and_fraction():
    assert zero_std_groups(REWARDS, 4).tolist() == [False, True, False]
    assert frac_zero_std(REWARDS, 4) == pytest.approx(1 / 3)
    assert frac_zero_std(torch.tensor([0.0, 0, 1, 1]), 2) == 1.0


def test_dynamic_sampling_keep():
    assert dynamic_sampling_keep(REWARDS, 4).tolist() == [True] * 4 + [False] * 4 + [True] * 4
    assert dynamic_sampling_keep(torch.tensor([0.0, 1, 1, 1, 0, 0]), 2).tolist() == [True, True, False, False,
                                                                                     False, False]


def test_overlong_soft_penalty_by_hand():
    # max 10, buffer 4: free up to 6, then -1/4 per token, -1 at 10 and beyond
    lengths = torch.tensor([0, 6, 7, 8, 10, 12])
    close(overlong_soft_penalty(lengths, 10, 4, 1.0), [0, 0, -0.25, -0.5, -1, -1])
    close(overlong_soft_penalty(lengths, 10, 4, 0.5), [0, 0, -0.125, -0.25, -0.5, -0.5])
    assert torch.equal(overlong_soft_penalty(lengths, 10, 0, 1.0), torch.zeros(6))

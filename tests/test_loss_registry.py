"""The loss seam: policy losses and advantage estimators are registries (losses.POLICY_LOSSES, advantages.ADVANTAGES)
that config.validate reads, and Policy._micro_loss calls the registered entry. A variant registered here runs end to
end: through the config, the trainer's selection hook and Policy's loss (a tiny in-memory model, no DeepSpeed)."""
import subprocess
import sys

import pytest
import torch

from r1zero import advantages, logprobs, losses
from r1zero.batching import make_batch
from r1zero.config import CHOICES, ConfigError, choices, load_config
from r1zero.policy import Policy
from r1zero.rollout.base import Rollout

G = 2  # 4 completions of 2 prompts


def test_config_choices_are_the_registries():
    c = choices()
    assert c["algo.loss"] == tuple(losses.POLICY_LOSSES) == ("pg", "rft")
    assert c["algo.advantage"] == tuple(advantages.ADVANTAGES) == ("grpo", "drgrpo", "batch", "rloo", "reinforce_pp")
    assert c["algo.policy_loss"] == tuple(losses.PG_LOSSES) == ("clip", "gspo", "cispo")
    assert c["algo.loss_agg"] == losses.LOSS_AGGS
    assert c["algo.kl_estimator"] == losses.KL_ESTIMATORS
    assert c["algo.is_correction"] == ("auto", *losses.IS_MODES)
    assert c["algo.is_level"] == losses.IS_LEVELS == ("token", "sequence", "geo_mean")
    assert not {"algo.loss", "algo.advantage", "algo.loss_agg", "algo.kl_estimator", "algo.is_correction",
                "algo.policy_loss", "algo.is_level"} & set(CHOICES), \
        "a registry's names are restated by hand in config.CHOICES"


def test_importing_config_imports_no_torch():
    code = "import sys, r1zero.config; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        losses.register_loss("pg")(lambda *a: None)
    with pytest.raises(ValueError, match="registered twice"):
        advantages.register_advantage("grpo")(lambda r, eps: r)
    with pytest.raises(ValueError, match="registered twice"):
        losses.register_pg_loss("clip")(lambda *a: None)


@pytest.fixture
def registries(monkeypatch):
    """Copies of both registries, so that what a test registers is gone after it."""
    monkeypatch.setattr(losses, "POLICY_LOSSES", dict(losses.POLICY_LOSSES))
    monkeypatch.setattr(advantages, "ADVANTAGES", dict(advantages.ADVANTAGES))
    monkeypatch.setattr(losses, "PG_LOSSES", dict(losses.PG_LOSSES))


def _policy(overrides: list[str]) -> Policy:
    """A Policy without DeepSpeed around a tiny random Llama: enough for `_micro_loss` (forward, loss, stats)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    policy = Policy.__new__(Policy)
    policy.cfg = load_config(None, ["train.prompts_per_step=2", f"rollout.group_size={G}", *overrides])
    policy.engine, policy.device = model, torch.device("cpu")
    return policy


def _batch(adv: torch.Tensor):
    g = torch.Generator().manual_seed(1)
    rolls = [Rollout(i // G, torch.randint(1, 32, (3,), generator=g).tolist(),
                     torch.randint(1, 32, (2 + i,), generator=g).tolist(), "", "stop", None) for i in range(2 * G)]
    batch = make_batch(rolls, adv, pad_id=0)
    batch.sampler_lp = -3.0 + 0.1 * torch.randn(batch.loss_mask.shape, generator=g)
    return batch


def _expected_logp(policy: Policy, batch) -> torch.Tensor:
    with torch.no_grad():
        logits = policy.engine(input_ids=batch.input_ids, attention_mask=batch.attn_mask).logits
    return torch.where(batch.loss_mask, logprobs.token_logprobs(logits, batch.input_ids), 0.0)  # [N, T-1]


def test_pg_and_rft_entries_are_the_loss_functions_with_the_same_stats():
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    for loss in ("pg", "rft"):
        extra = ["algo.beta=0.1", "algo.kl_estimator=k2"] if loss == "pg" else ["rewards.names=grm"]
        policy = _policy([f"algo.loss={loss}", *extra])
        a, batch = policy.cfg.algo, _batch(adv)
        batch.loss_mask, _ = losses.select_completions(batch.loss_mask, adv, a)  # rft: accepted = adv > 0
        batch.ref_lp = torch.zeros(batch.loss_mask.shape)
        norm = losses.aggregation_norm(batch.loss_mask, a.loss_agg, policy.cfg.rollout.max_new_tokens)
        got, stats = policy._micro_loss(batch, norm)
        lp, m = _expected_logp(policy, batch), batch.loss_mask
        w, _ = losses.importance_weights(lp, batch.sampler_lp, m, "truncate", a.is_cap)
        if loss == "pg":
            pg, pg_stats = losses.policy_loss(lp, lp, adv, m, a.clip_low, a.clip_high, a.loss_agg, norm, w)
            want = pg + 0.1 * losses.aggregate(losses.kl_penalty(lp, batch.ref_lp, "k2"), m, a.loss_agg, norm)
            keys = ["policy/entropy", *[k for k in stats if k.startswith("sampling/")], *pg_stats, "loss/policy",
                    "loss/kl"]
        else:
            assert int(m.any(-1).sum()) == 2  # the two completions with a positive reward
            want, keys = losses.sft_loss(lp, m, norm, a.loss_agg), ["policy/entropy", "sampling/is_ratio_mean",
                                                                   "sampling/is_ratio_max", "sampling/is_ratio_min",
                                                                   "sampling/is_clipped_frac", "loss/sft"]
        assert list(stats) == keys
        torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-5)


def test_select_completions_for_pg_and_rft():
    mask = torch.ones(4, 3, dtype=torch.bool)
    rewards = torch.tensor([1.0, 0.0, 0.5, -1.0])
    algo = load_config(None, ["train.prompts_per_step=2", "rollout.group_size=2"]).algo
    assert losses.select_completions(mask, rewards, algo) == (mask, {})
    algo.loss, algo.rft_threshold = "rft", 0.4
    kept, metrics = losses.select_completions(mask, rewards, algo)
    assert kept.all(-1).tolist() == [True, False, True, False] and metrics == {"rft/accepted_frac": 0.5}


def test_a_loss_registered_in_a_test_runs_end_to_end(registries):
    with pytest.raises(ConfigError, match="choose one of pg, rft$"):
        load_config(None, ["algo.loss=plain_pg"])

    def top_half(rewards, algo):  # learn only the completions with an above-median reward
        keep = rewards > rewards.median()
        return keep, {"plain/kept_frac": float(keep.float().mean())}

    @losses.register_loss("plain_pg", select=top_half)
    def plain_pg(logp, old_logp, mb, algo, norm, is_weights=None):  # REINFORCE: -A log p, no ratio, no clipping
        adv = mb.advantages[:, None].expand_as(logp)
        loss = losses.aggregate(-adv * logp, mb.loss_mask, algo.loss_agg, norm)
        return loss, {"loss/plain": loss.detach()}

    assert losses.selection("plain_pg") is top_half and losses.selection("pg") is None
    policy = _policy(["algo.loss=plain_pg"])
    adv = torch.tensor([2.0, -1.0, 1.0, -2.0])
    batch = _batch(adv)
    batch.sampler_lp = None  # no importance weights (and no sampling/ stats): the hf engine's case
    batch.loss_mask, metrics = losses.select_completions(batch.loss_mask, adv, policy.cfg.algo)
    assert metrics == {"plain/kept_frac": 0.5} and batch.loss_mask.any(-1).tolist() == [True, False, True, False]
    norm = losses.aggregation_norm(batch.loss_mask, "token_mean", 0)
    loss, stats = policy._micro_loss(batch, norm)
    lp, m = _expected_logp(policy, batch), batch.loss_mask
    want = -(adv[:, None] * lp)[m].sum() / m.sum()
    torch.testing.assert_close(loss.detach(), want, atol=1e-5, rtol=1e-5)
    assert list(stats) == ["policy/entropy", "loss/plain"]
    loss.backward()
    assert all(p.grad is not None for p in policy.engine.parameters() if p.requires_grad)


def test_an_advantage_estimator_registered_in_a_test_is_a_config_choice(registries):
    with pytest.raises(ConfigError, match="choose one of grpo, drgrpo, batch, rloo, reinforce_pp$"):
        load_config(None, ["algo.advantage=max_baseline"])

    @advantages.register_advantage("max_baseline")
    def max_baseline(r, eps):  # the group's best reward as the baseline
        return r - r.amax(dim=1, keepdim=True)

    load_config(None, ["algo.advantage=max_baseline"])  # a choice now
    got = advantages.group_advantages(torch.tensor([1.0, 0.0, 3.0, 3.0]), 2, "max_baseline")
    torch.testing.assert_close(got, torch.tensor([0.0, -1.0, 0.0, 0.0]))  # the all-equal group is exactly 0


@pytest.mark.parametrize("form, level", [("gspo", "sequence"), ("cispo", "geo_mean"), ("clip", "sequence")])
def test_policy_loss_and_is_level_are_the_config_choices_through_policy(form, level):
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    policy = _policy([f"algo.policy_loss={form}", f"algo.is_level={level}", "algo.is_correction=mask",
                      "algo.loss_agg=seq_mean"])
    a, batch = policy.cfg.algo, _batch(adv)
    batch.old_lp = _expected_logp(policy, batch) + 0.05  # off-policy: ratios e^-0.05 (inside the clip range)
    batch.sampler_lp = batch.old_lp + 0.1 * torch.tensor([[1.0], [-1.0], [4.0], [0.0]])  # sequence 2 is masked out
    norm = losses.aggregation_norm(batch.loss_mask, a.loss_agg, policy.cfg.rollout.max_new_tokens)
    got, stats = policy._micro_loss(batch, norm)
    lp, m = _expected_logp(policy, batch), batch.loss_mask
    w, is_stats = losses.importance_weights(batch.old_lp, batch.sampler_lp, m, "mask", a.is_cap, level)
    want, pg_stats = losses.PG_LOSSES[form](lp, batch.old_lp, adv, m, a.clip_low, a.clip_high, a.loss_agg, norm, w)
    torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-5)
    assert list(stats) == ["policy/entropy", *is_stats, *pg_stats, "loss/policy"]
    # sequence 2 (4 tokens, -0.4 nats each): its product e^-1.6 = 0.20 < 1/cap is masked whole; its geometric mean
    # e^-0.4 = 0.67 is kept. The others: e^-0.2, e^0.3, 1 (products) are inside [1/2, 2]
    assert float(stats["sampling/is_clipped_frac"]) == (0.25 if level == "sequence" else 0.0)


def test_entropy_bonus_value_and_gradient_through_policy():
    """algo.entropy_coef > 0: loss = pg - coef * aggregate(H), H the token entropies from the model's full logits, and
    the gradient is that expression's (the chunked head's entropy backward); coef 0 adds no term and no stat."""
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5])
    for coef in (0.0, 0.3):
        policy = _policy([f"algo.entropy_coef={coef}", "algo.loss_agg=seq_mean"])
        a, batch = policy.cfg.algo, _batch(adv)
        batch.sampler_lp = None
        m = batch.loss_mask
        norm = losses.aggregation_norm(m, a.loss_agg, policy.cfg.rollout.max_new_tokens)
        loss, stats = policy._micro_loss(batch, norm)
        got = torch.autograd.grad(loss, list(policy.engine.parameters()))
        logits = policy.engine(input_ids=batch.input_ids, attention_mask=batch.attn_mask).logits  # [N, T, V]
        lp = torch.where(m, logprobs.token_logprobs(logits, batch.input_ids), 0.0)  # [N, T-1]
        ent = logprobs.entropy_from_logits(logits[:, :-1])  # [N, T-1]
        pg, _ = losses.policy_loss(lp, lp.detach(), adv, m, a.clip_low, a.clip_high, a.loss_agg, norm)
        want = pg - coef * losses.aggregate(ent, m, a.loss_agg, norm)
        torch.testing.assert_close(loss.detach(), want.detach(), atol=1e-6, rtol=1e-6)
        for g, w in zip(got, torch.autograd.grad(want, list(policy.engine.parameters()))):
            torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(stats["policy/entropy"], ent[m].mean().detach(), atol=1e-6, rtol=1e-6)
        assert ("loss/entropy" in stats) == (coef > 0)


def test_a_pg_form_registered_in_a_test_is_a_config_choice_and_the_pg_loss_uses_it(registries):
    with pytest.raises(ConfigError, match="choose one of clip, gspo, cispo$"):
        load_config(None, ["algo.policy_loss=reinforce"])

    @losses.register_pg_loss("reinforce")
    def reinforce(logp, old_logp, advantages, mask, clip_low, clip_high, loss_agg, norm, is_weights=None):
        loss = losses.aggregate(-advantages[:, None] * logp, mask, loss_agg, norm)  # -A log p, no ratio
        return loss, {}

    algo = load_config(None, ["algo.policy_loss=reinforce", "algo.beta=0.5"]).algo
    logp = torch.tensor([[-1.0, -2.0]], requires_grad=True)
    mb = make_batch([Rollout(0, [1], [2, 3], "", "stop", None)], torch.tensor([2.0]), pad_id=0)
    mb.ref_lp = logp.detach()  # KL 0
    loss, stats = losses.POLICY_LOSSES["pg"](logp, logp.detach(), mb, algo, 2.0, None)
    torch.testing.assert_close(loss, torch.tensor(3.0))  # -2 * (-1 - 2) / 2
    assert list(stats) == ["loss/policy", "loss/kl"]

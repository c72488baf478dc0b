"""SPCT hinted sampling (`data.hint_frac`): a share of each step's prompts is generated with the row's hint, and
those completions are trained under the prompt without it. The loop part uses recording stand-ins for the engine and
the scorer (what is checked is which prompt ids go to the engine and which come back for training); the real vLLM
path is `tests/test_loop_paths.py`, whose grm_rft recipe run samples with hints."""
from types import SimpleNamespace

import pytest
import torch

from r1zero import prompts
from r1zero.config import ConfigError, load_config
from r1zero.data import Sampler, load_dataset
from r1zero.rollout.base import Rollout, SamplingParams
from r1zero.scoring import Scores
from r1zero.tasks.grm_data import hint
from r1zero.train import generate_and_score, hinted_count


class RecordingEngine:
    def __init__(self):
        self.prompts = []

    def generate(self, ids, n, sampling):
        self.prompts.append([list(p) for p in ids])
        return [Rollout(i, list(p), [7, 8], "text", "stop", [-0.5, -0.5]) for i, p in enumerate(ids) for _ in range(n)]


class ConstantScorer:
    def score(self, rollouts, samples):
        return Scores(torch.ones(len(rollouts)), {"grm": [1.0] * len(rollouts)}, [{}] * len(rollouts), {})


def hinted_ctx(frac: float, n_rows: int = 8, per_step: int = 4, group: int = 2):
    cfg = load_config("launch/configs/grm_rft_cpu.yaml", [f"data.hint_frac={frac}", f"train.prompts_per_step="
                                                          f"{per_step}", f"rollout.group_size={group}"])
    rows = [{"id": f"r{i}", "problem": f"p{i}"} for i in range(n_rows)]
    plain = [[i] for i in range(n_rows)]
    hinted = [[i, 1000 + i] for i in range(n_rows)]  # the hint's tokens after the problem's
    return SimpleNamespace(cfg=cfg, world_size=1, rank=0, rows=rows, prompt_ids=plain, hint_prompt_ids=hinted,
                           sampler=Sampler(list(range(n_rows)), per_step, 0), engine=RecordingEngine(),
                           scorer=ConstantScorer())


class NoTimers:
    def __call__(self, name):
        import contextlib

        return contextlib.nullcontext()


def test_hinted_prompts_go_to_the_engine_and_train_under_the_plain_prompt():
    ctx = hinted_ctx(0.25)
    rows, rollouts, scores, stats = generate_and_score(ctx, SamplingParams(), NoTimers(), step=0)
    sent = ctx.engine.prompts[0]
    # round up: a quarter of 4 prompts is one; the first prompt of the shuffled batch gets its hint, the rest do not
    assert [len(p) for p in sent] == [2, 1, 1, 1] and sent[0][1] == 1000 + sent[0][0]
    assert all(r.prompt_ids == [r.prompt_ids[0]] for r in rollouts)  # every rollout trains under the plain prompt
    assert [r.prompt_ids[0] for r in rollouts[:2]] == [sent[0][0]] * 2  # ... of its own row
    assert [row["id"] for row in rows[:2]] == [f"r{sent[0][0]}"] * 2
    assert scores.metrics["sampling/hinted_frac"] == 0.25 and scores.metrics["reward/hinted_mean"] == 1.0


def test_no_hint_share_sends_the_plain_prompts():
    ctx = hinted_ctx(0.0)
    ctx.hint_prompt_ids = None  # what runtime builds with data.hint_frac=0
    _, _, scores, _ = generate_and_score(ctx, SamplingParams(), NoTimers(), step=0)
    assert all(len(p) == 1 for p in ctx.engine.prompts[0]) and "sampling/hinted_frac" not in scores.metrics


@pytest.mark.parametrize("frac, n, want", [(0.25, 8, 2), (0.25, 2, 1), (0.1, 4, 1), (1.0, 5, 5), (0.5, 3, 2)])
def test_hinted_count_rounds_up(frac, n, want):
    assert hinted_count(frac, n) == want


@pytest.mark.parametrize("override, message", [
    (["data.hint_frac=1.5"], "must be in \\[0, 1\\]"),
    (["data.hint_frac=0.25", "algo.loss=pg"], "only `algo.loss=rft`"),
    (["data.hint_frac=0.25", "data.hint_key="], "needs `data.hint_key`"),
])
def test_hint_settings_that_cannot_be_sound_are_refused(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("launch/configs/grm_rft_cpu.yaml", override)


def test_hinted_prompt_puts_the_hint_after_the_responses_and_needs_the_field():
    rows = load_dataset("grm_addition_small")[:3]
    assert all(r["hint"] == hint(r["labels"]) for r in load_dataset("grm_addition_small"))
    texts = []

    def fake_tokenizer(batch, add_special_tokens):
        texts.extend(batch)
        return {"input_ids": [[len(t)] for t in batch]}

    tok = fake_tokenizer  # raw form: no chat template, so only the call is needed; it records the texts
    prompts.encode_hinted(rows, "hint", "grm", tok, chat=False)
    for row, text in zip(rows, texts):
        assert text.endswith(row["problem"] + "\n\n" + row["hint"] + "\n\nPrinciples:")
    with pytest.raises(prompts.PromptError, match="have no `verdict` text for hinted sampling .*id 'grm-train-00000'"):
        prompts.encode_hinted(rows, "verdict", "grm", tok, chat=False)


def test_hint_lines_say_the_verifiers_verdict():
    assert hint([0, 1]) == "Hint: Response 2 is right."
    assert hint([1, 0]) == "Hint: Response 1 is right."
    assert hint([0]) == "Hint: Response 1 is wrong." and hint([1]) == "Hint: Response 1 is right."

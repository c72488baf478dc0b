"""Your own reward, in a file of your own: `rewards.names=[examples.my_rewards:concise]` from the repository root
(any importable module works: `package.module:function`; put its directory on PYTHONPATH).

A reward is a plain module-level function `(completion, sample) -> RewardResult | float`:
- `completion` is the model's text (with the template's prefill, e.g. `<think>`, in front);
- `sample` is the dataset row: every column of your file (nested columns as dicts), and `problem`, `answer`
  (from `data.problem_key` / `data.answer_key`), `id` and `prompt`.
It runs in the reward worker pool with a hard time limit (`rewards.timeout_s`), like the built-in verifiers: if it
raises or hangs, that completion scores 0 and counts in `verify/errors` or `verify/timeouts`; the run goes on.
Held-out evaluation (`r1zero eval`, and `eval.*` during training) reports its mean as `reward/<name>`.
"""
from rewards import RewardResult, get_reward

accuracy = get_reward("accuracy")  # the built-in verifier: extract the final answer, compare it mathematically


def concise(completion: str, sample: dict) -> RewardResult:
    """The accuracy verifier's score, less 0.1 per 100 characters past the row's `max_chars` column (200 if the
    file has none)."""
    result = accuracy(completion, sample)
    over = max(0, len(completion) - int(sample.get("max_chars") or 200))
    return RewardResult(max(0.0, result.score - 0.001 * over), {**result.info, "chars_over": over})

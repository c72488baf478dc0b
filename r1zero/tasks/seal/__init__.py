"""SEAL (Self-Adapting Language Models, Zweiger et al. 2025) knowledge incorporation, as a task and a model reward.

    r1zero seal build-data                                            # r1zero/data/seal/*.jsonl
    r1zero train --config launch/configs/seal_rest_cpu.yaml           # ReST-EM outer loop (algo.loss=rft)
    r1zero train --config launch/configs/seal_fiction_cpu.yaml        # on fictional passages (fiction.py)
    r1zero train --config launch/configs/seal_grpo_cpu.yaml           # GRPO outer loop
    r1zero seal eval --model M --data seal_gsm8k_test --out DIR [--wandb-mode offline]

The policy reads a passage (`data.template=seal`) and writes a *self-edit* (facts and implications of the passage).
The reward of a self-edit (`SealReward`, `rewards.names: [seal_knowledge]`) is SEAL's inner loop, run in worker
processes (`inner.py`): a copy of the model gets a fresh LoRA adapter trained for a few epochs on the
self-edit, then answers the passage's questions closed-book (without the passage); the reward is that accuracy minus
the accuracy of the model without the update. The outer loop trains the policy on its own rewarded self-edits:
ReST-EM (`algo.loss=rft`: keep the self-edits with reward > `algo.rft_threshold`, minimise their NLL) as in the
paper, or GRPO (`algo.loss=pg`).

The inner model starts from the current policy (`seal.inner_model=policy`, SEAL's setting: the model that writes the
edit is the one updated; a weight snapshot is written under `<run_dir>/seal/` at each score call) or from the
initial model (`seal.inner_model=initial`). Catastrophic forgetting is measured on an unrelated held-out set
(`seal.forgetting_suite`, first `seal.forgetting_limit` rows): its accuracy before and after the inner update, once
per passage per score call (the first self-edit of each passage).

Few-shot setting (`rules.py`, `fewshot.py`; the paper's ARC experiment, small): the policy reads a rule-induction
puzzle's demonstrations (`data.template=seal_rules`) and writes a *plan* from a fixed menu (augmentations and
inner-loop settings); the inner loop trains the LoRA adapter by that plan on the demonstrations and asks the puzzle's
query with them in context; the reward (`rewards.names: [seal_fewshot]`, `FewShotReward`) is 1 for an exact output.

    r1zero train --config launch/configs/seal_rules_cpu.yaml          # ReST-EM over plans
    r1zero seal eval --model M --data seal_rules_test --baselines fixed --out DIR

Modules: `reward.py` (SealReward, FewShotReward, the weight snapshot), `inner.py` (the LoRA inner loop and its
worker pool, with the knobs `InnerSettings` taken from the `seal:` config section), `edits.py` (self-edits to inner
tasks, results to rewards and metrics: shared by the reward and the eval), `eval.py` (held-out evaluation and its
baselines), `data.py` (the GSM8K passages), `fiction.py` (passages about invented entities: no self-edit can copy
their answers wholesale), `rules.py` (the few-shot puzzles), `fewshot.py` (the plan menu: parser and training
documents).
This file imports nothing: the inner loop's workers import `inner.py` alone.
"""

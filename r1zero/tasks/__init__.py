"""The tasks wing: self-improvement tasks that run on the GRPO trainer as a dataset, a template and a reward.

  * `grm.py`, `grm_data.py`: SPCT generative reward model (voting, pairwise eval, the `grm_judge` model reward;
    its data).
  * `seal/`: SEAL knowledge incorporation (the `seal_knowledge` model reward, its LoRA inner loop, eval, data).
  * `cli.py`: `r1zero grm ...` and `r1zero seal ...`.

A task's model reward follows the one contract of r1zero/scoring.py (`ModelReward`, next to `MODEL_REWARDS`): built
from the run config, the model path, tokenizer, a zero-argument `weights` callable, the world size, the rank and the
run directory; never the Policy. A task's result run on W&B is `r1zero.tracking.write_result_run`'s.
"""

"""TRL's GRPOTrainer on r1zero's CPU default task; run by benchmarks/compare_trl.py inside `.venv-trl`.

    PYTHONPATH=. .venv-trl/bin/python benchmarks/trl_grpo_run.py --model DIR --out metrics.jsonl [--steps 10]
        [--threads 2] [--vllm] [--bf16] [--seed 0]

Same task as launch/configs/cpu_default.yaml: addition_small train problems, prompt text built by
`r1zero.prompts.build_prompt` (template `plain`, chat template applied: byte-identical to r1zero's prompts),
reward = r1zero's `rewards.REWARDS["accuracy"]`, 8 prompts x 8 completions per optimizer step, 32 new tokens,
T=0.7, AdamW lr 2e-5 betas (0.9, 0.99) eps 1e-8 wd 0, grad clip 1.0, constant lr, beta 0 (no reference model),
token-mean loss (`loss_type="dapo"`, as r1zero's `algo.loss_agg=token_mean`), one iteration per batch, seed 0.
Writes one JSON line per optimizer step: {"step", "time_s" (wall time of that step), "reward"}.
"""
from __future__ import annotations

import argparse
import json
import os
import time


def build_dataset(model_dir: str):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from r1zero.prompts import build_prompt

    tok = AutoTokenizer.from_pretrained(model_dir)
    path = os.path.join("r1zero", "data", "addition_small", "train.jsonl")
    rows = [json.loads(line) for line in open(path) if line.strip()]
    prompts = [build_prompt(r["problem"], "plain", tok, chat=True) for r in rows]
    return Dataset.from_dict({"prompt": prompts, "answer": [r["answer"] for r in rows]}), tok


def accuracy_reward(completions, answer, **_):
    from rewards import REWARDS

    fn = REWARDS["accuracy"]
    return [float(fn(c, {"answer": a}).score) for c, a in zip(completions, answer)]


def make_callback(out_path: str):
    from transformers import TrainerCallback

    class StepLog(TrainerCallback):
        """Per optimizer step: wall time since the previous step ended, and TRL's logged mean reward."""

        def __init__(self):
            self.t0, self.times, self.file = None, {}, open(out_path, "w")

        def on_train_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            now = time.perf_counter()
            self.times[state.global_step], self.t0 = now - self.t0, now

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "reward" in logs and state.global_step in self.times:
                row = {"step": state.global_step, "time_s": self.times[state.global_step],
                       "reward": float(logs["reward"])}
                self.file.write(json.dumps(row) + "\n")
                self.file.flush()
                print("[trl]", json.dumps(row), flush=True)

    return StepLog()


def make_config(args, out_dir: str):
    from trl import GRPOConfig

    extra = {}
    if args.vllm:
        extra = dict(use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.1,
                     vllm_enable_sleep_mode=False)
    return GRPOConfig(
        output_dir=out_dir, max_steps=args.steps, num_generations=8, per_device_train_batch_size=16,
        gradient_accumulation_steps=4,  # 16 x 4 = 64 completions = 8 prompts x 8 per optimizer step
        max_completion_length=32, temperature=0.7, top_p=1.0, learning_rate=2e-5, adam_beta1=0.9,
        adam_beta2=0.99, adam_epsilon=1e-8, weight_decay=0.0, max_grad_norm=1.0, lr_scheduler_type="constant",
        warmup_steps=0, beta=0.0, loss_type="dapo", num_iterations=1, epsilon=0.2, scale_rewards="group",
        logging_steps=1, report_to="none", save_strategy="no", eval_strategy="no", use_cpu=True,
        bf16=args.bf16, gradient_checkpointing=False, seed=args.seed, data_seed=args.seed, dataloader_num_workers=0,
        disable_tqdm=True, **extra)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vllm", action="store_true", help="TRL vLLM colocate mode (else transformers generate)")
    ap.add_argument("--bf16", action="store_true", help="bf16 mixed precision (default fp32)")
    ap.add_argument("--seed", type=int, default=0, help="sampling and data-order seed")
    args = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM
    from trl import GRPOTrainer

    torch.set_num_threads(args.threads)
    dataset, tok = build_dataset(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.float32)
    config = make_config(args, os.path.join(os.path.dirname(os.path.abspath(args.out)), "trl_out"))
    trainer = GRPOTrainer(model=model, reward_funcs=accuracy_reward, args=config, train_dataset=dataset,
                          processing_class=tok, callbacks=[make_callback(args.out)])
    trainer.train()


if __name__ == "__main__":
    main()

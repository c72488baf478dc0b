"""Policy updates that go non-finite, on every ZeRO stage, in a subprocess or under torchrun (several ranks).

    python tests/nonfinite_worker.py MODEL_DIR OUT.pt STAGE [STAGE ...]

Per stage, two policies (AdamW): "huge" runs updates at lr 1e-3, 1e30 (one huge but finite step: the weights reach
~1e30, whose gradients are inf/NaN with a finite loss), 1e30 again; "inf" runs one update at lr inf (the update
itself makes the weights NaN/inf). Rank 0 saves, per update, the metrics, how far the full weights moved and whether
they are finite.
"""
import sys

import torch

from dist_worker import synthetic_rollouts
from r1zero import dist
from r1zero.batching import make_batch
from r1zero.config import load_config
from r1zero.policy import Policy

SEQUENCES = {"huge": [1e-3, 1e30, 1e30], "inf": [float("inf")]}


def weights(policy) -> dict[str, torch.Tensor]:
    return {name: t.detach().clone().float() for name, t in policy.named_parameters_for_sync()}


def run(model_dir: str, stage: int, rank: int, world: int, lrs: list[float]) -> list[dict]:
    cfg = load_config(None, [f"model.name={model_dir}", "optim.lr=1e-3", f"train.zero_stage={stage}",
                             "train.micro_batch_size=2", "rollout.group_size=4", "train.prompts_per_step=2",
                             "rollout.max_new_tokens=8"])
    policy = Policy(cfg, model_dir, world, rank)
    rollouts, adv = synthetic_rollouts()
    share = len(rollouts) // world
    mine = slice(rank * share, (rank + 1) * share)
    out = []
    for lr in lrs:  # LambdaLR multiplies its base lrs (by 1: constant schedule) when it steps
        policy.scheduler.base_lrs = [lr] * len(policy.scheduler.base_lrs)
        for group in policy.engine.basic_optimizer.param_groups:
            group["lr"] = lr
        before = weights(policy)
        metrics = policy.update(make_batch(rollouts[mine], adv[mine], pad_id=0))
        after = weights(policy)
        out.append({"metrics": metrics, "moved": max(float((after[k] - before[k]).abs().max()) for k in after),
                    "finite": all(bool(torch.isfinite(t).all()) for t in after.values()),
                    "weights_finite": getattr(policy, "weights_finite", lambda: None)()})
    return out


def main() -> None:
    model_dir, out, *stages = sys.argv[1:]
    rank, world, _ = dist.init()
    torch.set_num_threads(1)
    results = {(int(s), name): run(model_dir, int(s), rank, world, lrs) for s in stages
               for name, lrs in SEQUENCES.items()}
    if rank == 0:
        torch.save(results, out)
    dist.shutdown()


if __name__ == "__main__":
    main()

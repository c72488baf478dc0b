"""Runs policy updates for the invariant tests, in a subprocess (one rank) or under torchrun (several ranks).

    python tests/dist_worker.py MODEL_DIR OUT.pt STAGE:MICRO [STAGE:MICRO ...]

For each STAGE:MICRO it builds a Policy (plain SGD, no clipping) on the same tiny model, updates it on this rank's
share of one fixed synthetic global batch, and rank 0 saves the full weights to OUT.pt as {"STAGE:MICRO": state}.
`agg=NAME` and `loss=pg|rft` before a spec switch the loss aggregation and the loss for the specs after it;
`set:KEY=VALUE` adds a config override (e.g. set:model.dtype=bf16) for the specs after it. Each result also names
the device the policy ran on.
"""
import sys

import torch

from r1zero.batching import make_batch
from r1zero.config import load_config
from r1zero import dist, losses
from r1zero.policy import Policy
from r1zero.rollout.base import Rollout

N, G = 8, 4  # global batch: 2 prompts x 4 completions


def synthetic_rollouts(seed: int = 0, vocab: int = 1000) -> tuple[list[Rollout], torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    rollouts = []
    for i in range(N):
        p = int(torch.randint(3, 7, (1,), generator=g))
        c = int(torch.randint(2, 9, (1,), generator=g))
        ids = torch.randint(1, vocab, (p + c,), generator=g).tolist()
        rollouts.append(Rollout(i // G, ids[:p], ids[p:], "", "stop", None))
    return rollouts, torch.randn(N, generator=g)


def run(model_dir: str, stage: int, micro: int, rank: int, world: int, loss_agg: str, loss: str = "pg",
        extra: tuple[str, ...] = ()) -> dict:
    cfg = load_config(None, [f"model.name={model_dir}", "optim.name=sgd", "optim.lr=0.5", "optim.grad_clip=0",
                             f"train.zero_stage={stage}", f"train.micro_batch_size={micro}", "rollout.group_size=4",
                             "train.prompts_per_step=2", f"algo.loss_agg={loss_agg}", "rollout.max_new_tokens=8",
                             f"algo.loss={loss}"] + (["rewards.names=grm"] if loss == "rft" else []) + list(extra))
    torch.manual_seed(0)
    policy = Policy(cfg, model_dir, world, rank)
    rollouts, adv = synthetic_rollouts()
    share = N // world
    mine = slice(rank * share, (rank + 1) * share)
    batch = make_batch(rollouts[mine], adv[mine], pad_id=0)
    # as train.py does: rft learns only the accepted completions (reward > rft_threshold = 0; here the rewards are adv)
    batch.loss_mask, _ = losses.select_completions(batch.loss_mask, adv[mine], cfg.algo)
    if cfg.algo.beta > 0:
        batch.ref_lp = policy.logprobs(batch, reference=True)
    metrics = policy.update(batch)
    state = {name: t.detach().clone().float().cpu() for name, t in policy.named_parameters_for_sync()}
    return {"state": state, "metrics": metrics, "device": str(policy.device)}


def rft_empty_step(model_dir: str) -> dict:
    """AdamW: an rft update with accepted completions, then one with none accepted; the weights after each."""
    cfg = load_config(None, [f"model.name={model_dir}", "optim.name=adamw", "optim.lr=1e-2", "train.zero_stage=1",
                             "train.micro_batch_size=8", "rollout.group_size=4", "train.prompts_per_step=2",
                             "rollout.max_new_tokens=8", "algo.loss=rft", "rewards.names=grm"])
    policy = Policy(cfg, model_dir, 1, 0)
    rollouts, adv = synthetic_rollouts()
    states = []
    for accepted in (adv > 0, torch.zeros_like(adv, dtype=torch.bool)):
        batch = make_batch(rollouts, adv, pad_id=0)
        batch.loss_mask = batch.loss_mask & accepted[:, None]
        policy.update(batch)
        states.append({n: t.detach().clone().float() for n, t in policy.named_parameters_for_sync()})
    return {"after_accepted": states[0], "after_empty": states[1]}


def main() -> None:
    model_dir, out, *specs = sys.argv[1:]
    loss_agg, loss, extra = "token_mean", "pg", []
    rank, world, _ = dist.init()
    torch.set_num_threads(1)
    results = {}
    for spec in specs:
        if spec.startswith("agg="):
            loss_agg = spec[4:]
            continue
        if spec == "rft_empty":
            results[spec] = rft_empty_step(model_dir)
            continue
        if spec.startswith("loss="):
            loss = spec[5:]
            continue
        if spec.startswith("set:"):
            extra.append(spec[4:])
            continue
        stage, micro = map(int, spec.split(":"))
        key = f"{loss_agg}:{spec}" if loss == "pg" else f"{loss}:{loss_agg}:{spec}"
        key = ",".join(extra) + "|" + key if extra else key
        results[key] = run(model_dir, stage, micro, rank, world, loss_agg, loss, tuple(extra))
    if rank == 0:
        torch.save(results, out)
    dist.shutdown()


if __name__ == "__main__":
    main()

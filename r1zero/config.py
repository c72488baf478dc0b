"""One typed config for a run: dataclasses, a YAML file, dotted CLI overrides, validated before anything starts.

    r1zero train --config launch/configs/cpu_default.yaml optim.lr=1e-6 rollout.group_size=8

Every knob is documented once, here, in the comment beside its field. Unknown keys are errors. The DeepSpeed
config dict is derived from this config (`deepspeed_config`), never written beside it, so batch sizes have one
source of truth.

Batch arithmetic (per optimizer step):
    sequences per step   = train.prompts_per_step * rollout.group_size
    sequences per update = sequences per step / train.minibatches           (one optimizer step each, per epoch)
    grad accumulation    = sequences per update / (world_size * train.micro_batch_size)
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from r1zero.errors import ConfigError  # noqa: F401 - a config problem: what is wrong, where (file / key), the fix
from r1zero.validation import check_batch, check_names, check_values, cli_value, read_yaml, set_key


@dataclass
class ModelConfig:
    name: str = "smollm2-135m"  # hub id, local directory, or an embedded name (see models.py: `smollm2-135m`)
    # fp32 | bf16: DeepSpeed bf16 (fp32 master weights; fp32 grad accumulation at ZeRO >= 1) | auto: bf16 where the
    # hardware multiplies bf16 natively (a CUDA GPU with bf16, a CPU with AVX-512/AMX bf16), else fp32 (models.py)
    dtype: str = "fp32"
    gradient_checkpointing: bool = False  # trade compute for activation memory
    attn_implementation: str = "sdpa"  # passed to transformers: sdpa | eager | flash_attention_2


@dataclass
class DataConfig:
    # a shipped dataset name (data.DATASETS: gsm8k, math, addition, ...), or the path of a .jsonl, .json, .parquet or
    # .csv file or of a `datasets` save_to_disk directory (r1zero/datafiles.py)
    train: str = "addition_small"
    # the columns of your files (data.train and eval suites given by path) that hold the problem and the answer; a
    # dotted path reaches into nested columns (reward_model.ground_truth). Shipped datasets use problem/answer.
    problem_key: str = "problem"
    answer_key: str = "answer"
    template: str = "plain"  # prompt template (prompts.TEMPLATES): r1 | boxed | plain | grm | seal
    chat: bool = True  # wrap the template in the tokenizer's chat template (instruct models); False for base models
    max_prompt_tokens: int = 512  # longer prompts are dropped at load time with a count in the log
    # SPCT's hinted sampling (algo.loss=rft only): this share of each step's prompts is generated with the row's
    # `hint_key` field appended to its problem (e.g. which response is right), so that hard inputs yield accepted
    # judgements too; those completions are trained under the prompt without the hint
    hint_frac: float = 0.0
    hint_key: str = "hint"


@dataclass
class RolloutConfig:
    engine: str = "vllm"  # vllm (in-process vLLM) | hf (transformers generate) | server (remote vLLM servers)
    group_size: int = 8  # G: completions per prompt
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1  # -1: off
    stop: list[str] = field(default_factory=list)  # extra stop strings
    # vLLM-only knobs (ignored by the hf engine)
    vllm_dtype: str = "auto"  # auto: bfloat16 where bf16 is native (as model.dtype=auto), else float32
    gpu_memory_utilization: float = 0.5  # share of GPU memory (on CPU use cpu_kvcache_gib)
    cpu_kvcache_gib: float = 2.0  # KV cache in GiB on CPU (VLLM_CPU_KVCACHE_SPACE)
    tensor_parallel_size: int = 1
    enable_sleep: bool = True  # sleep/wake_up around training where the platform supports it
    enable_prefix_caching: bool = True
    servers: list[str] = field(default_factory=list)  # server engine: http://host:port of each vLLM server
    # server engine: the file holding the servers' API key (never the key itself: configs are logged); empty: the
    # environment variable R1ZERO_API_KEY. launch/train_math.sh --rollout-nodes writes one and passes it.
    api_key_file: str = ""
    server_timeout_s: float = 600.0  # server engine: the longest any one request may take (a generate call)
    sync_check_every: int = 1  # compare engine vs trainer logprobs on a probe after every N syncs (0: never)
    # max mean |logprob diff| on the probe before the run stops. bf16 engine vs trainer differ by up to ~0.04
    # nats/token here (measured over the CPU default run), so a one-step drift is below the noise; the check
    # catches wrong, partial or stale weights (diffs of 0.5 and more), not a single skipped small step.
    sync_check_tol: float = 0.1


@dataclass
class AlgoConfig:
    # grpo (group mean/std) | drgrpo (group mean, no std) | batch (group mean/batch std, REINFORCE++-baseline) |
    # rloo (leave-one-out mean of the G-1 peers) | reinforce_pp (REINFORCE++: batch mean/std, no group baseline)
    advantage: str = "grpo"
    loss_agg: str = "token_mean"  # token_mean (DAPO) | seq_mean (GRPO) | constant (Dr. GRPO: / max_new_tokens)
    clip_low: float = 0.2  # ratio clipped to [1 - clip_low, 1 + clip_high]
    clip_high: float = 0.2  # DAPO clip-higher uses 0.28
    beta: float = 0.0  # KL coefficient; 0 loads no reference model at all
    kl_estimator: str = "k3"  # k1 | k2 | k3
    mu: int = 1  # epochs over each rollout batch; > 1 stores old logprobs and uses the clipped ratio
    dynamic_sampling: bool = False  # drop groups whose rewards are all equal, and sample more prompts to refill
    max_refill_rounds: int = 3  # dynamic sampling: extra generation rounds per step before training on what is there
    overlong: str = "none"  # none | mask (drop truncated completions from the loss) | soft (DAPO length penalty)
    overlong_buffer: int = 64  # soft: penalty ramps over the last N tokens before max_new_tokens
    overlong_penalty: float = 1.0  # soft: penalty at max_new_tokens
    is_correction: str = "auto"  # auto (on for vllm/server, off for hf) | off | truncate | mask
    is_cap: float = 2.0  # truncate: clamp sampler->trainer ratio at this; mask: drop tokens above it (or below 1/it)
    # what one sampler->trainer weight covers: token (one per token) | sequence (one per completion: the product of
    # its token ratios) | geo_mean (one per completion: their geometric mean); mask drops whole completions there
    is_level: str = "token"
    # the policy-gradient form of loss=pg: clip (PPO/GRPO clipped token ratio) | gspo (one clipped ratio per
    # sequence, the mean token log-ratio; GSPO clips far tighter, e.g. clip_low=3e-4 clip_high=4e-4) | cispo
    # (REINFORCE weighted by the clipped, detached token ratio: no token loses its gradient)
    policy_loss: str = "clip"
    entropy_coef: float = 0.0  # loss -= entropy_coef x the mean token entropy (aggregated as loss_agg); 0: none
    # pg: the clipped policy gradient (GRPO and its variants). rft: rejection fine-tuning / ReST-EM, a supervised
    # stage of the grm and seal tasks only: keep the completions whose reward is > rft_threshold and minimise their
    # negative log-likelihood (same sampling, scoring and DeepSpeed update). The R1-Zero math path never uses it.
    loss: str = "pg"
    rft_threshold: float = 0.0


@dataclass
class RewardsConfig:
    # rewards.REWARDS keys, scoring.MODEL_REWARDS keys, or module:function (your own)
    names: list[str] = field(default_factory=lambda: ["accuracy"])
    weights: list[float] = field(default_factory=list)  # same length as names; empty: all 1.0
    workers: int = 2  # verifier worker processes
    timeout_s: float = 5.0  # hard wall-clock limit per completion


@dataclass
class GRMConfig:
    """The `grm_judge` model reward (r1zero/tasks/grm.py): a generative reward model scores completions by voting."""

    judge_model: str = ""  # model of the judge; empty: the run's model.name (as it was at the start)
    judge_engine: str = "hf"  # hf | vllm: the judge's own engine (never the policy's)
    judge_chat: bool = False  # wrap the judge prompt in the judge tokenizer's chat template (the grm template is
    #                           few-shot raw text: the small CPU model parses it far more often without chat)
    judge_k: int = 4  # critiques sampled per input; their scores are summed (SPCT voting)
    judge_temperature: float = 0.7
    judge_max_new_tokens: int = 256
    max_score: int = 10  # scores are integers in 1..max_score


@dataclass
class SealConfig:
    """The `seal_knowledge` model reward (r1zero/tasks/seal/): a LoRA update on the self-edit, then closed-book
    questions about the passage. The inner loop's knobs (`InnerSettings`) take their defaults from here only."""

    inner_model: str = "policy"  # policy (the current weights, as in SEAL) | initial (the run's starting model)
    lora_rank: int = 8
    lora_alpha: int = 16
    # all linear layers: q/v only with lr 1e-3 moved nothing measurable on the 135M CPU model
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"])
    inner_steps: int = 3  # epochs over the self-edit
    inner_lr: float = 3e-3
    inner_batch: int = 4  # self-edit lines per inner optimizer step
    answer_tokens: int = 12  # greedy tokens decoded per closed-book question
    workers: int = 1  # inner-loop worker processes (per rank)
    timeout_s: float = 120.0  # hard wall-clock limit per self-edit (the worker is killed and replaced)
    memory_gib: float = 6.0  # address-space limit per worker
    forgetting_suite: str = "addition_small_test"  # unrelated held-out set, accuracy before/after each update
    forgetting_limit: int = 32  # its problems (0: all)


@dataclass
class OptimConfig:
    name: str = "adamw"  # adamw | sgd (sgd: plain gradient steps, used by the invariant tests)
    lr: float = 1e-6
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    eps: float = 1e-8
    schedule: str = "constant"  # constant | linear | cosine (decay to 0 at train.steps)
    warmup_steps: int = 0
    grad_clip: float = 1.0  # 0: off


@dataclass
class TrainConfig:
    steps: int = 100  # RL steps (one rollout batch each)
    prompts_per_step: int = 8  # B: problems per step, across all ranks
    micro_batch_size: int = 4  # sequences per forward/backward per rank
    minibatches: int = 1  # optimizer steps per epoch over a rollout batch
    zero_stage: int = 0  # DeepSpeed ZeRO stage 0 | 1 | 2 | 3
    offload_optimizer: bool = False  # ZeRO-Offload of optimizer states to CPU (stage >= 1)
    offload_params: bool = False  # ZeRO-3 parameter offload to CPU
    seed: int = 0
    max_bad_steps: int = 3  # stop after this many consecutive steps with NaN/inf loss or gradient
    threads: int = 0  # torch threads per rank on CPU; 0: cores / ranks (halved with max_staleness > 0)
    # 0: synchronous (generate, then train); 1: the next step's rollouts are generated while this step trains, by
    # weights one update old (r1zero/pipeline.py)
    max_staleness: int = 0
    # completion tokens per LM-head chunk: logits, log-softmax, entropy and their backward hold one [chunk, vocab]
    # fp32 block at a time (logprobs.head_logprobs; ~0.6 GB at 1024 x Qwen2.5's 151,936). 0: all tokens at once
    logit_chunk_tokens: int = 1024


@dataclass
class EvalConfig:
    suites: list[str] = field(default_factory=lambda: ["addition_small_test"])  # dataset names or paths, as data.train
    every: int = 0  # evaluate every N steps (0: only before and after training)
    before: bool = True  # evaluate before the first step
    after: bool = True  # evaluate after the last step
    limit: int = 200  # problems per suite (0: all)
    k: int = 1  # samples per problem
    greedy: bool = True  # greedy decoding (k must be 1) or sampling at eval temperature
    temperature: float = 0.6
    top_p: float = 1.0
    max_new_tokens: int = 256


@dataclass
class LogConfig:
    output_dir: str = "runs"  # the run directory is output_dir/run_name
    run_name: str = ""  # empty: <train data>-<timestamp>
    wandb_mode: str = "auto"  # auto (online if WANDB_API_KEY is set, else offline) | online | offline | disabled
    wandb_project: str = "r1zero"
    samples_every: int = 10  # log a table of rollout samples every N steps (0: never)
    samples_count: int = 8  # rows per samples table
    verbose: bool = False  # the libraries' own logs, bars and warnings, and errors with their full traceback (also
    #                        R1ZERO_VERBOSE=1 or R1ZERO_DEBUG=1; r1zero/console.py, r1zero/errors.py)


@dataclass
class CheckpointConfig:
    every: int = 0  # save every N steps (0: only at the end)
    keep_last: int = 2  # keep this many step checkpoints
    resume: str = "auto"  # auto (latest in the run dir, if any) | never | path to a checkpoint directory
    save_final: bool = True
    export_model: bool = True  # write the final weights as a Hugging Face model dir <run_dir>/final_model


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    rewards: RewardsConfig = field(default_factory=RewardsConfig)
    grm: GRMConfig = field(default_factory=GRMConfig)
    seal: SealConfig = field(default_factory=SealConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    log: LogConfig = field(default_factory=LogConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


RFT_TASK_REWARDS = ("grm", "seal_knowledge", "seal_fewshot")  # the tasks whose recipe has a rejection fine-tuning stage

CHOICES = {
    "model.dtype": ("fp32", "bf16", "auto"),
    "data.template": ("r1", "boxed", "plain", "grm", "seal", "seal_qa", "seal_rules"),
    "rollout.engine": ("hf", "vllm", "server"),
    "algo.overlong": ("none", "mask", "soft"),
    "grm.judge_engine": ("hf", "vllm"),
    "seal.inner_model": ("policy", "initial"),
    "optim.name": ("adamw", "sgd"),
    "optim.schedule": ("constant", "linear", "cosine"),
    "train.zero_stage": (0, 1, 2, 3),
    "log.wandb_mode": ("auto", "online", "offline", "disabled"),
}


def choices() -> dict[str, tuple]:
    """CHOICES plus the algorithm knobs, whose names are those of the registries and tables that implement them
    (imported here, not at the top: importing config.py must not import torch, which `console.setup` precedes)."""
    from r1zero import advantages, losses

    return {**CHOICES, "algo.advantage": tuple(advantages.ADVANTAGES), "algo.loss": tuple(losses.POLICY_LOSSES),
            "algo.policy_loss": tuple(losses.PG_LOSSES), "algo.loss_agg": losses.LOSS_AGGS,
            "algo.kl_estimator": losses.KL_ESTIMATORS, "algo.is_correction": ("auto", *losses.IS_MODES),
            "algo.is_level": losses.IS_LEVELS}


# ---------------------------------------------------------------------------------------------- loading


def load_config(path: str | Path | None = None, overrides: list[str] | None = None, check: bool = True) -> Config:
    """Defaults <- YAML file <- `a.b=c` overrides, then `validate` (`check=False`: the caller validates later; the
    command line does, after `console.setup`: validation imports reward modules, and with them torch)."""
    cfg = Config()
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist (pass --config PATH; examples in launch/configs/)")
        raw = read_yaml(p) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections (model:, train:, ...)")
        for section, body in raw.items():
            set_key(cfg, str(section), body, str(p))
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"command line: override `{item}` must look like section.key=value")
        key, raw_value = item.split("=", 1)
        set_key(cfg, key.strip(), cli_value(raw_value), "command line")
    if check:
        validate(cfg)
    return cfg


# ---------------------------------------------------------------------------------------------- validation


def validate(cfg: Config, world_size: int = 1) -> None:
    """Raise ConfigError for any inconsistent setting, saying how to fix it."""
    flat = _flatten(cfg.to_dict())
    for key, allowed in choices().items():
        if flat[key] not in allowed:
            raise ConfigError(f"`{key}` is {flat[key]!r}; choose one of {', '.join(map(str, allowed))}")
    t, r, a, e = cfg.train, cfg.rollout, cfg.algo, cfg.eval
    if t.steps < 0:
        raise ConfigError(f"`train.steps` must be >= 0 (0: evaluate only), got {t.steps}")
    check_values(cfg, flat)  # finite floats, value ranges (validation.RANGES), betas, cross-field rules
    from r1zero.advantages import needs_groups  # (not at the top: see `choices`)

    if r.group_size < 2 and needs_groups(a.advantage):
        raise ConfigError(f"`algo.advantage={a.advantage}` compares completions of the same prompt: "
                          "set `rollout.group_size` >= 2 (or use `algo.advantage=batch`)")
    if a.clip_low < 0 or a.clip_low >= 1 or a.clip_high < 0:
        raise ConfigError("`algo.clip_low` must be in [0, 1) and `algo.clip_high` >= 0")
    if a.beta < 0:
        raise ConfigError(f"`algo.beta` must be >= 0, got {a.beta}")
    if cfg.rewards.weights and len(cfg.rewards.weights) != len(cfg.rewards.names):
        raise ConfigError(f"`rewards.weights` has {len(cfg.rewards.weights)} entries but `rewards.names` has "
                          f"{len(cfg.rewards.names)}: give one weight per reward, or none (all 1.0)")
    if not cfg.rewards.names:
        raise ConfigError("`rewards.names` is empty: name at least one reward (see `python -m rewards list`)")
    if e.greedy and e.k != 1:
        raise ConfigError("`eval.greedy=true` gives one answer per problem: set `eval.k=1` or `eval.greedy=false`")
    if t.logit_chunk_tokens < 0:
        raise ConfigError(f"`train.logit_chunk_tokens` must be >= 0 (0: one chunk), got {t.logit_chunk_tokens}")
    if t.offload_params and t.zero_stage != 3:
        raise ConfigError("`train.offload_params` needs `train.zero_stage=3`")
    if t.offload_optimizer and t.zero_stage == 0:
        raise ConfigError("`train.offload_optimizer` needs `train.zero_stage` >= 1")
    if r.engine == "server" and not r.servers:
        raise ConfigError("`rollout.engine=server` needs `rollout.servers` (e.g. rollout.servers=http://node2:8000)")
    if a.loss == "rft" and not set(cfg.rewards.names) & set(RFT_TASK_REWARDS):
        raise ConfigError(f"`algo.loss=rft` (rejection fine-tuning) is a supervised stage of the grm and seal tasks "
                          f"only (`rewards.names` must include one of {', '.join(RFT_TASK_REWARDS)}); the R1-Zero "
                          "path has no supervised warm start: use `algo.loss=pg`")
    if a.loss == "rft" and a.mu > 1:
        raise ConfigError("`algo.loss=rft` is on-policy supervised learning: set `algo.mu=1`")
    check_names(cfg)  # rewards, datasets, suites, model and resume paths
    check_batch(cfg, world_size)


def grad_accumulation(cfg: Config, world_size: int) -> int:
    seqs = cfg.train.prompts_per_step * cfg.rollout.group_size // cfg.train.minibatches
    return seqs // (world_size * cfg.train.micro_batch_size)


def deepspeed_config(cfg: Config, world_size: int) -> dict[str, Any]:
    """The DeepSpeed config dict, derived from `cfg` (never kept beside it)."""
    check_batch(cfg, world_size)
    t = cfg.train
    gas = grad_accumulation(cfg, world_size)
    zero: dict[str, Any] = {"stage": t.zero_stage}
    if t.zero_stage == 3:
        zero.update({"stage3_gather_16bit_weights_on_model_save": False, "stage3_param_persistence_threshold": 0})
    if t.offload_optimizer:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": False}
    if t.offload_params:
        zero["offload_param"] = {"device": "cpu", "pin_memory": False}
    ds: dict[str, Any] = {
        "train_micro_batch_size_per_gpu": t.micro_batch_size,
        "gradient_accumulation_steps": gas,
        "train_batch_size": t.micro_batch_size * gas * world_size,
        "zero_optimization": zero,
        "gradient_clipping": cfg.optim.grad_clip,
        "bf16": {"enabled": cfg.model.dtype == "bf16"},
        "steps_per_print": 10 ** 9,
        "wall_clock_breakdown": False,
    }
    if cfg.model.dtype == "bf16" and t.zero_stage > 0:
        ds["data_types"] = {"grad_accum_dtype": "fp32"}  # fp32 gradient accumulation + fp32 master weights
    if t.zero_stage > 0:
        ds["zero_allow_untested_optimizer"] = True  # we pass a client torch optimizer (AdamW or SGD)
    if t.offload_optimizer or t.offload_params:
        ds["zero_force_ds_cpu_optimizer"] = False
    return ds


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def flatten(cfg: Config) -> dict[str, Any]:
    """`{"train.steps": 100, ...}`: for W&B config and the run's config.yaml."""
    return _flatten(cfg.to_dict())

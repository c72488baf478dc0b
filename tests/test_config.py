"""The typed config: YAML + dotted overrides, clear errors, and the derived DeepSpeed config."""
import pytest

from r1zero.config import ConfigError, deepspeed_config, flatten, grad_accumulation, load_config, validate

ROOT_CFG = "launch/configs/cpu_default.yaml"


def test_yaml_and_overrides_types(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("train:\n  steps: 7\nrollout:\n  temperature: 0.5\n")
    cfg = load_config(p, ["optim.lr=3e-6", "rewards.names=accuracy,format", "model.gradient_checkpointing=true"])
    assert cfg.train.steps == 7 and cfg.rollout.temperature == 0.5
    assert cfg.optim.lr == 3e-6 and cfg.rewards.names == ["accuracy", "format"]
    assert cfg.model.gradient_checkpointing is True
    assert flatten(cfg)["train.steps"] == 7


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "unknown config key `train.stepz`"),
    ("trainer.steps=3", "unknown config key `trainer.steps`"),
    ("train.steps=abc", "`train.steps` must be int"),
    ("algo.loss_agg=mean", "choose one of token_mean, seq_mean, constant"),
    ("rollout.group_size=1", "set `rollout.group_size` >= 2"),
    ("train.micro_batch_size=5", "not divisible by world_size=1 x train.micro_batch_size=5"),
    ("rewards.weights=1,2", "give one weight per reward"),
    ("train.offload_params=true", "needs `train.zero_stage=3`"),
    ("eval.k=4", "`eval.greedy=true` gives one answer per problem"),
    ("steps=3", "unknown config key `steps`"),
    ("algo.loss=rft", "supervised stage of the grm and seal tasks only"),
    ("algo.loss=sft", "choose one of pg, rft"),
])
def test_errors_say_what_and_how(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(ROOT_CFG, [override])
    assert message in str(e.value)


def test_yaml_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  steps: [1,\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: not valid YAML"):
        load_config(p)
    q = tmp_path / "unknown.yaml"
    q.write_text("train:\n  warmup: 3\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml: unknown config key `train.warmup`"):
        load_config(q)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")


def test_batch_arithmetic_and_world_size():
    cfg = load_config(None, ["train.prompts_per_step=8", "rollout.group_size=8", "train.micro_batch_size=4",
                             "train.minibatches=2"])
    assert grad_accumulation(cfg, 1) == 8 and grad_accumulation(cfg, 2) == 4
    with pytest.raises(ConfigError, match="world_size=3"):
        validate(cfg, world_size=3)


def test_deepspeed_config_is_derived():
    cfg = load_config(None, ["train.zero_stage=3", "train.offload_params=true", "train.offload_optimizer=true",
                             "model.dtype=bf16", "optim.grad_clip=0.5", "train.prompts_per_step=4",
                             "rollout.group_size=4", "train.micro_batch_size=2"])
    ds = deepspeed_config(cfg, world_size=2)
    assert ds["train_micro_batch_size_per_gpu"] == 2 and ds["gradient_accumulation_steps"] == 4
    assert ds["train_batch_size"] == 16
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["offload_param"]["device"] == "cpu"
    assert ds["bf16"]["enabled"] and ds["gradient_clipping"] == 0.5
    assert ds["zero_force_ds_cpu_optimizer"] is False

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


def test_off_on_yes_no_stay_words_for_word_knobs(tmp_path):
    """YAML 1.1 reads off/on/yes/no as booleans; `algo.is_correction: off` must be the mode "off" (file and command
    line), while a boolean knob still takes them."""
    p = tmp_path / "c.yaml"
    p.write_text("algo:\n  is_correction: off\nmodel:\n  gradient_checkpointing: yes\n")
    cfg = load_config(p)
    assert cfg.algo.is_correction == "off" and cfg.model.gradient_checkpointing is True
    cfg = load_config(None, ["algo.is_correction=off", "model.gradient_checkpointing=on", "log.verbose=no"])
    assert cfg.algo.is_correction == "off" and cfg.model.gradient_checkpointing is True and cfg.log.verbose is False


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
    ("algo.policy_loss=ppo", "`algo.policy_loss` is 'ppo'; choose one of clip, gspo, cispo"),
    ("algo.is_level=batch", "`algo.is_level` is 'batch'; choose one of token, sequence, geo_mean"),
    ("algo.advantage=reinforce", "choose one of grpo, drgrpo, batch, rloo, reinforce_pp"),
    ("algo.entropy_coef=-0.01", "`algo.entropy_coef` must be >= 0 (0: no entropy bonus), got -0.01"),
    ("algo.entropy_coef=nan", "`algo.entropy_coef` must be a finite number"),
    # values that passed validation before and crashed later or misbehaved (issue 15, items 3 and 7)
    ("optim.lr=nan", "`optim.lr` must be a finite number, got nan"),
    ("optim.lr=inf", "`optim.lr` must be a finite number, got inf"),
    ("optim.lr=-inf", "`optim.lr` must be a finite number"),
    ("rollout.temperature=nan", "`rollout.temperature` must be a finite number"),
    ("rollout.temperature=0", "`rollout.temperature=0` is greedy decoding: the 8 completions"),
    ("rewards.timeout_s=0", "`rewards.timeout_s` must be > 0"),
    ("rewards.timeout_s=-1", "`rewards.timeout_s` must be > 0"),
    ("rewards.names=accuracy,acuracy", "`rewards.names`: unknown reward 'acuracy'; use one of accuracy,"),
    ("rewards.names=no_such_module:fn", "`rewards.names`: 'no_such_module:fn': cannot import `no_such_module`"),
    ("eval.suites=math500,math5000", "`eval.suites`: 'math5000' is neither a dataset name nor an existing file"),
    ("data.train=gsm8", "`data.train`: 'gsm8' is neither a dataset name nor an existing file"),
    ("model.name=./no/such/model", "`model.name=./no/such/model` is a path that does not exist"),
    ("checkpoint.resume=/no/such/run/checkpoints/step-000002", "is not a checkpoint directory"),
    ("train.threads=-2", "`train.threads` must be >= 0 (0: cores / ranks), got -2"),
    ("optim.betas=1.5,2", "`optim.betas` must be two numbers in [0, 1)"),
    ("optim.betas=0.9,0.99,0.999", "`optim.betas` must be two numbers in [0, 1)"),
    ("checkpoint.every=-1", "`checkpoint.every` must be >= 0 (0: only at the end), got -1"),
    ("checkpoint.keep_last=0", "`checkpoint.keep_last` must be >= 1, got 0"),
    ("eval.every=-1", "`eval.every` must be >= 0"),
    ("eval.limit=-5", "`eval.limit` must be >= 0 (0: all problems), got -5"),
    ("optim.warmup_steps=-3", "`optim.warmup_steps` must be >= 0"),
    ("optim.grad_clip=-1", "`optim.grad_clip` must be >= 0 (0: no clipping), got -1"),
    ("rollout.sync_check_tol=-1", "`rollout.sync_check_tol` must be > 0"),
    ("train.max_bad_steps=0", "`train.max_bad_steps` must be >= 1 (1: stop at the first non-finite step), got 0"),
    ("train.max_bad_steps=-2", "`train.max_bad_steps` must be >= 1"),
])
def test_errors_say_what_and_how(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(ROOT_CFG, [override])
    assert message in str(e.value)


@pytest.mark.parametrize("name, content, message", [
    ("bad.yaml", b"train:\n  steps: [1,\n", r"bad.yaml:\d+: not valid YAML"),
    ("unknown.yaml", b"train:\n  warmup: 3\n", r"unknown.yaml: unknown config key `train.warmup`"),
    ("missing.yaml", None, "does not exist"),
    ("dup.yaml", b"train:\n  steps: 3\noptim:\n  lr: 1e-5\ntrain:\n  seed: 1\n",
     r"dup.yaml:5: key `train` is given twice \(first at line 1\)"),
    ("inner.yaml", b"optim:\n  lr: 1.0e-5\n  lr: 1.0e-3\n",
     r"inner.yaml:3: key `lr` is given twice \(first at line 2\)"),
    ("latin1.yaml", "log:\n  run_name: caf\u00e9\n".encode("latin-1"),
     r"latin1.yaml:2: not UTF-8 text \(byte 0xe9 at offset 20\): save the file as UTF-8"),
])
def test_yaml_errors_name_the_file(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / name)


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


@pytest.mark.parametrize("overrides, message", [
    (["rollout.group_size=1", "algo.advantage=batch", "algo.dynamic_sampling=true", "train.micro_batch_size=8"],
     "with `rollout.group_size=1` every group is"),
    (["algo.overlong=soft", "algo.overlong_buffer=64", "rollout.max_new_tokens=32"],
     "the soft penalty would hit even empty completions"),
    (["rollout.group_size=1", "algo.advantage=rloo", "train.micro_batch_size=8"],
     "`algo.advantage=rloo` compares completions of the same prompt"),
])
def test_edge_cases_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ROOT_CFG, overrides)


def test_dataset_paths_may_be_save_to_disk_directories(tmp_path):
    """data.train and eval.suites take a `datasets` save_to_disk directory (read by r1zero/datafiles.py): validation
    must not refuse a directory as 'not a file' before the reader sees it."""
    saved = tmp_path / "saved"
    saved.mkdir()
    cfg = load_config(None, [f"data.train={saved}", f"eval.suites={saved},math500"])
    assert cfg.data.train == str(saved)
    with pytest.raises(ConfigError, match="neither a dataset name nor an existing file or directory"):
        load_config(None, [f"data.train={tmp_path / 'missing'}"])


def test_algorithm_defaults_and_variants():
    """Defaults are today's algorithm (clip ratio, token weights, no entropy bonus); every variant loads by name, and
    reinforce_pp, with no group baseline, needs no group (one completion per prompt)."""
    a = load_config(None).algo
    assert (a.policy_loss, a.is_level, a.entropy_coef, a.advantage, a.loss) == ("clip", "token", 0.0, "grpo", "pg")
    for form in ("clip", "gspo", "cispo"):
        for level in ("token", "sequence", "geo_mean"):
            over = [f"algo.policy_loss={form}", f"algo.is_level={level}", "algo.entropy_coef=0.001"]
            a = load_config(None, over).algo
            assert (a.policy_loss, a.is_level, a.entropy_coef) == (form, level, 0.001)
    for adv in ("rloo", "reinforce_pp"):
        assert load_config(None, [f"algo.advantage={adv}"]).algo.advantage == adv
    load_config(None, ["rollout.group_size=1", "algo.advantage=reinforce_pp", "train.micro_batch_size=8"])

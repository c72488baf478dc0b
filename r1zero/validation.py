"""Checks of a config's values and files, kept out of config.py so that the knobs there stay readable.

    raw = read_yaml(path)      # UTF-8 only, duplicate keys refused, only true/false are booleans; errors name file:line
    set_key(cfg, "a.b", v, where)  # one key from YAML or the command line (cli_value), coerced to the field's type
    check_values(cfg, flat)    # every float finite, the RANGES table, betas, cross-field rules (flat: config.flatten)
    check_names(cfg)           # rewards, datasets and suites that exist; model and resume paths that exist
    check_batch(cfg, world)    # the batch arithmetic divides evenly

Every failure is a `ConfigError` naming the key, the value and the fix. `config.load_config` and `config.validate`
call these. This module does not import config.py (which imports it).
"""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from pathlib import Path
from typing import Any

import yaml

from r1zero.errors import ConfigError

# key -> (rule, note). Rules: ">0", ">=0", ">=1", "(0,1]". The note says what the edge value means.
RANGES: dict[str, tuple[str, str]] = {
    "optim.lr": (">0", ""),
    "optim.eps": (">0", ""),
    "optim.weight_decay": (">=0", ""),
    "optim.warmup_steps": (">=0", " (0: no warm-up)"),
    "optim.grad_clip": (">=0", " (0: no clipping)"),
    "train.max_staleness": (">=0", " (0: synchronous)"),
    "rollout.temperature": (">=0", ""),
    "rollout.top_p": ("(0,1]", ""),
    "rollout.group_size": (">=1", ""),
    "rollout.max_new_tokens": (">=1", ""),
    "rollout.sync_check_every": (">=0", " (0: never)"),
    "rollout.sync_check_tol": (">0", " (the mean |logprob diff| in nats/token that stops the run)"),
    "rollout.cpu_kvcache_gib": (">0", ""),
    "rollout.gpu_memory_utilization": ("(0,1]", ""),
    "rollout.tensor_parallel_size": (">=1", ""),
    "data.max_prompt_tokens": (">=1", ""),
    "algo.mu": (">=1", ""),
    "algo.max_refill_rounds": (">=0", ""),
    "algo.overlong_buffer": (">=0", " (0: no soft penalty)"),
    "algo.overlong_penalty": (">=0", ""),
    "algo.is_cap": (">=1", ""),
    "algo.entropy_coef": (">=0", " (0: no entropy bonus)"),
    "rewards.workers": (">=1", ""),
    "rewards.timeout_s": (">0", " (seconds per completion before its worker is killed)"),
    "train.prompts_per_step": (">=1", ""),
    "train.micro_batch_size": (">=1", ""),
    "train.minibatches": (">=1", ""),
    "train.max_bad_steps": (">=1", " (1: stop at the first non-finite step)"),
    "train.threads": (">=0", " (0: cores / ranks)"),
    "eval.every": (">=0", " (0: only before and after training)"),
    "eval.limit": (">=0", " (0: all problems)"),
    "eval.k": (">=1", ""),
    "eval.max_new_tokens": (">=1", ""),
    "eval.temperature": (">=0", ""),
    "eval.top_p": ("(0,1]", ""),
    "log.samples_every": (">=0", " (0: never)"),
    "log.samples_count": (">=0", ""),
    "checkpoint.every": (">=0", " (0: only at the end)"),
    "checkpoint.keep_last": (">=1", ""),
    "grm.judge_k": (">=1", ""),
    "grm.judge_max_new_tokens": (">=1", ""),
    "grm.max_score": (">=1", ""),
    "seal.workers": (">=1", ""),
    "seal.timeout_s": (">0", ""),
    "seal.inner_steps": (">=1", ""),
    "seal.inner_batch": (">=1", ""),
}
RULES = {">0": (lambda v: v > 0, "> 0"), ">=0": (lambda v: v >= 0, ">= 0"), ">=1": (lambda v: v >= 1, ">= 1"),
         "(0,1]": (lambda v: 0 < v <= 1, "in (0, 1]")}


def check_values(cfg, flat: dict[str, Any]) -> None:
    for key, value in flat.items():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"`{key}` must be a finite number, got {v}")
    for key, (rule, note) in RANGES.items():
        ok, text = RULES[rule]
        if not ok(flat[key]):
            raise ConfigError(f"`{key}` must be {text}{note}, got {flat[key]!r}")
    betas = cfg.optim.betas
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise ConfigError(f"`optim.betas` must be two numbers in [0, 1) (Adam's beta1, beta2; e.g. 0.9,0.99), "
                          f"got {betas}")
    r, a = cfg.rollout, cfg.algo
    if r.temperature == 0 and r.group_size > 1:
        raise ConfigError(f"`rollout.temperature=0` is greedy decoding: the {r.group_size} completions of a prompt "
                          "would be identical and their advantages 0; set rollout.temperature > 0 (e.g. 1.0)")
    if a.dynamic_sampling and r.group_size < 2:
        raise ConfigError("`algo.dynamic_sampling` drops groups whose rewards are all equal, and with "
                          "`rollout.group_size=1` every group is: set rollout.group_size >= 2")
    check_async(cfg)
    check_hints(cfg)
    if a.overlong == "soft" and a.overlong_buffer > r.max_new_tokens:
        raise ConfigError(f"`algo.overlong_buffer={a.overlong_buffer}` is longer than `rollout.max_new_tokens="
                          f"{r.max_new_tokens}`: the soft penalty would hit even empty completions; set "
                          "algo.overlong_buffer <= rollout.max_new_tokens")


def check_async(cfg) -> None:
    """`train.max_staleness > 0` generates in a background thread that runs no collective."""
    lag, why = cfg.train.max_staleness, "the next step's rollouts are generated while this step trains"
    if not lag:
        return
    if lag > 1:
        raise ConfigError(f"`train.max_staleness={lag}`: only 0 (synchronous) and 1 (one step ahead) exist")
    from r1zero.scoring import MODEL_REWARDS

    # (the engine's side, its own copy of the weights, is `runtime.check_engine`: the engine classes import config)
    if cfg.algo.dynamic_sampling:
        raise ConfigError(f"`algo.dynamic_sampling` keeps the ranks' refill rounds in step with a collective, which "
                          f"a background generation cannot run (`train.max_staleness=1`: {why}): turn one off")
    model = [n for n in cfg.rewards.names if n in MODEL_REWARDS]
    if model:
        raise ConfigError(f"`rewards.names` has the model reward {model[0]}, which uses the engine and collectives "
                          f"while scoring: `train.max_staleness=1` ({why}) supports rule rewards only")


def check_hints(cfg) -> None:
    """Hinted sampling trains a completion under a prompt other than the one that sampled it."""
    d = cfg.data
    if not 0 <= d.hint_frac <= 1:
        raise ConfigError(f"`data.hint_frac` is the share of prompts sampled with a hint: must be in [0, 1], got "
                          f"{d.hint_frac}")
    if d.hint_frac and cfg.algo.loss != "rft":
        raise ConfigError(f"`data.hint_frac={d.hint_frac}` trains hinted completions under the prompt without the "
                          f"hint: only `algo.loss=rft` (the NLL of accepted completions) is sound there; with "
                          f"`algo.loss={cfg.algo.loss}` the ratio and IS weights would be taken against the wrong "
                          "sampler. Set data.hint_frac=0 or algo.loss=rft")
    if d.hint_frac and not d.hint_key:
        raise ConfigError("`data.hint_frac` > 0 needs `data.hint_key`: the row field that holds the hint")


def check_names(cfg) -> None:
    from r1zero.data import DATASETS

    for name in cfg.rewards.names:
        _check_reward(name)
    for key, names in (("data.train", [cfg.data.train]), ("eval.suites", cfg.eval.suites)):
        for name in names:
            if name not in DATASETS and not Path(name).exists():  # a file, or a `datasets` save_to_disk directory
                raise ConfigError(f"`{key}`: {name!r} is neither a dataset name nor an existing file or directory; "
                                  f"use one of {', '.join(DATASETS)}, or the path of a .jsonl, .json, .parquet or "
                                  ".csv file or of a save_to_disk directory")
    model = cfg.model.name
    if model.startswith(("/", "./", "../", "~")) and not Path(model).expanduser().exists():
        raise ConfigError(f"`model.name={model}` is a path that does not exist: point it at a model directory "
                          "(written by save_pretrained), a hub id, or smollm2-135m")
    resume = cfg.checkpoint.resume
    if resume not in ("auto", "never") and not (Path(resume) / "trainer_state.json").is_file():
        raise ConfigError(f"`checkpoint.resume={resume}` is not a checkpoint directory (no trainer_state.json): "
                          "use auto, never, or a path like runs/<run>/checkpoints/step-000010")


def _check_reward(name: str) -> None:
    """A built-in or model reward, or an importable `module:function` (scoring.check_rule_reward says why not)."""
    from rewards import REWARDS
    from r1zero.scoring import MODEL_REWARDS, check_rule_reward

    if name in REWARDS or name in MODEL_REWARDS:
        return
    if ":" not in name:
        names = ", ".join([*REWARDS, *MODEL_REWARDS])
        raise ConfigError(f"`rewards.names`: unknown reward {name!r}; use one of {names}, or module:function for "
                          "your own")
    try:
        check_rule_reward(name)
    except ValueError as e:
        raise ConfigError(str(e)) from None


# ---------------------------------------------------------------------------------------------- setting keys


def coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    """Convert a YAML/CLI value to the field's declared type, or raise a ConfigError naming the key."""
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if isinstance(value, str):  # CLI: a,b,c
            value = [v for v in value.split(",") if v != ""]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: `{key}` must be a list, got {value!r}")
        return [coerce(v, item_tp, key, where) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on", "false", "0", "no", "off"):
            return value.lower() in ("true", "1", "yes", "on")
        raise ConfigError(f"{where}: `{key}` must be true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: `{key}` must be a number, got {value!r}")
        try:
            out = tp(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: `{key}` must be {tp.__name__}, got {value!r}") from None
        if tp is int and isinstance(value, float) and value != out:
            raise ConfigError(f"{where}: `{key}` must be an integer, got {value!r}")
        return out
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: `{key}` must be a string, got {value!r}")
        return str(value)
    return value


def set_key(cfg, dotted: str, value: Any, where: str) -> None:
    """Set the config key `dotted` (a section takes a mapping of its keys) from a YAML/CLI value, coerced to the
    field's type; unknown keys and wrong types raise a ConfigError naming `where` and the valid keys."""
    parts = dotted.split(".")
    obj: Any = cfg
    for i, part in enumerate(parts):
        fields = {f.name: f for f in dataclasses.fields(obj)}
        if part not in fields:
            prefix = ".".join(parts[:i])
            valid = ", ".join(sorted((prefix + "." if prefix else "") + n for n in fields))
            raise ConfigError(f"{where}: unknown config key `{dotted}`. Valid keys here: {valid}")
        if i == len(parts) - 1:
            if dataclasses.is_dataclass(getattr(obj, part)):
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: `{dotted}` is a section; give its keys, e.g. {dotted}.<key>=...")
                for k, v in value.items():
                    set_key(cfg, f"{dotted}.{k}", v, where)
                return
            hints = typing.get_type_hints(type(obj))
            setattr(obj, part, coerce(value, hints[part], dotted, where))
            return
        obj = getattr(obj, part)
        if not dataclasses.is_dataclass(obj):
            raise ConfigError(f"{where}: `{'.'.join(parts[:i + 1])}` is not a section")


def check_batch(cfg, world_size: int) -> None:
    """Batch arithmetic: every step, update and micro-batch round divides evenly (config.py's module doc)."""
    seqs = cfg.train.prompts_per_step * cfg.rollout.group_size
    if seqs % cfg.train.minibatches:
        raise ConfigError(f"train.prompts_per_step * rollout.group_size = {seqs} sequences per step is not divisible "
                          f"by train.minibatches={cfg.train.minibatches}")
    per_update = seqs // cfg.train.minibatches
    per_round = world_size * cfg.train.micro_batch_size
    if per_update % per_round:
        raise ConfigError(
            f"{per_update} sequences per optimizer step (train.prompts_per_step={cfg.train.prompts_per_step} x "
            f"rollout.group_size={cfg.rollout.group_size} / train.minibatches={cfg.train.minibatches}) is not "
            f"divisible by world_size={world_size} x train.micro_batch_size={cfg.train.micro_batch_size}: change "
            f"train.micro_batch_size or train.prompts_per_step so that it divides")
    if cfg.train.prompts_per_step % world_size:
        raise ConfigError(f"train.prompts_per_step={cfg.train.prompts_per_step} must be divisible by the "
                          f"number of ranks ({world_size}) so that each rank generates whole groups")


# ---------------------------------------------------------------------------------------------- YAML files


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently), and reads
    only true/false as booleans (YAML 1.2): YAML 1.1 would turn `algo.is_correction: off` into False, not "off"."""


_BOOL = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {first: [(tag, rx) for tag, rx in rules if tag != _BOOL]
                                         for first, rules in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"{loader.name}:{line}: key `{key}` is given twice (first at line {seen[key]}): "
                              "keep one")
        seen[key] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def cli_value(raw: str) -> Any:
    """`key=value` from the command line: a YAML scalar read as in a config file (numbers, true/false), else the
    raw string."""
    loader = _StrictLoader(raw)
    try:
        value = loader.get_single_data()
    except yaml.YAMLError:
        return raw
    finally:
        loader.dispose()
    return raw if value is None else value


def read_yaml(path: Path) -> Any:
    """The YAML document in `path` (UTF-8), with errors that name file:line."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}): save "
                          "the file as UTF-8") from None
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML: {e}") from None
    finally:
        loader.dispose()

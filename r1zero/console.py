"""The console: what `r1zero train` and `r1zero eval` print. By default r1zero's own `[r1zero] ...` lines, the
progress bar and the JSON summary; the libraries' logs, progress bars and warnings come back with
`log.verbose=true`, or `R1ZERO_VERBOSE=1` (or `R1ZERO_DEBUG=1`) in the environment.

    console.setup(cfg.log.verbose)   # in the CLI, before torch, vLLM, transformers, DeepSpeed or W&B are imported
    console.say("model ...")          # one `[r1zero] ...` line on stdout (the caller prints on rank 0 only)
    with console.muted():             # library code that print()s (DeepSpeed's optimizer memory report)
        ...

What the quiet default turns off (counted on `make train-math`, which printed 266 lines for 20 steps):
| source                                                                     | how                                 |
|----------------------------------------------------------------------------|-------------------------------------|
| vLLM's INFO/WARNING lines at engine start ("libtcmalloc is not found",     | `VLLM_LOGGING_LEVEL=ERROR` (read    |
|   "CPU backend doesn't allow to use torch.set_num_threads", the config...) |   when vllm is imported)            |
| vLLM's "Attempted to load weight ... float32 into ... bfloat16" (122)      | not hidden: the weights are handed  |
|                                                                            |   over in the engine's dtype        |
| vLLM's "Loading safetensors checkpoint shards" bar                         | `use_tqdm_on_load=verbose()`        |
| torch C++ "NUMA binding: Using MEMBIND policy ..."                         | `TORCH_CPP_LOG_LEVEL=ERROR`         |
| Python warnings raised inside the libraries (vLLM's FutureWarning on       | a `warnings` filter on their        |
|   `torch.distributed.reduce_op`); a warning about r1zero's own call stays  |   modules                           |
| transformers' "Loading weights" bar and advisory warnings                  | its progress bars off (hub          |
|                                                                            |   downloads keep theirs)            |
| DeepSpeed's "Setting accelerator to CPU", "... built successfully", the    | its logger below ERROR dropped;     |
|   bf16 optimizer's memory report (12 lines)                                |   `muted()` around its set-up       |
| W&B's 7 start lines (the Weave advertisement among them) and run summary   | `WANDB_SILENT=true`; r1zero says    |
|                                                                            |   where the run is                  |
| `datasets`' progress bars                                                  | `HF_DATASETS_DISABLE_PROGRESS_BARS` |

An environment variable the user has set wins (`VLLM_LOGGING_LEVEL=INFO r1zero train ...` keeps vLLM's lines).
Errors are never hidden: a library's ERROR lines show, and what `muted()` held back is printed if its block raises.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings

QUIET_ENV = {  # read by the libraries when they are imported: set before they are
    "VLLM_LOGGING_LEVEL": "ERROR",
    "TORCH_CPP_LOG_LEVEL": "ERROR",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "WANDB_SILENT": "true",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}
LIBRARIES = ("vllm", "torch", "transformers", "deepspeed", "wandb", "datasets", "pyarrow", "pandas", "peft",
             "accelerate", "huggingface_hub", "triton", "pydantic")
VERBOSE_ENV = ("R1ZERO_VERBOSE", "R1ZERO_DEBUG")

_verbose: bool | None = None  # set by `setup`; None: only the environment decides


def env_verbose() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in VERBOSE_ENV)


def verbose() -> bool:
    """Whether the libraries' own output is wanted (log.verbose, R1ZERO_VERBOSE, R1ZERO_DEBUG)."""
    return env_verbose() if _verbose is None else _verbose


def setup(log_verbose: bool = False) -> bool:
    """Quiet the libraries unless verbose (see the module doc). Call once, before they are imported; returns
    whether the run is verbose."""
    global _verbose
    _verbose = bool(log_verbose) or env_verbose()
    if _verbose:
        return True
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", module=rf"({'|'.join(LIBRARIES)})(\.|$)")
    # vLLM configures its logger only part-way through `import vllm`; a record before that (Triton's "doesn't
    # include CPU backend") would reach Python's last-resort handler
    logging.getLogger("vllm").setLevel(logging.ERROR)
    # DeepSpeed's logger sets its own level and handler when imported; a filter on it survives that
    logging.getLogger("DeepSpeed").addFilter(lambda record: record.levelno >= logging.ERROR)
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.set_verbosity_error()  # in case transformers was imported already
    hub_bars = not huggingface_hub.utils.are_progress_bars_disabled()
    transformers.utils.logging.disable_progress_bar()  # "Loading weights" at every from_pretrained
    if hub_bars:  # ... but a download of a big model still shows that it is under way
        huggingface_hub.utils.enable_progress_bars()
    return False


@contextlib.contextmanager
def muted():
    """Drop what is printed to stdout inside the block (library set-up reports); if the block raises, print it
    after all. Verbose: nothing is dropped."""
    if verbose():
        yield
        return
    held = io.StringIO()
    try:
        with contextlib.redirect_stdout(held):
            yield
    except BaseException:
        sys.stdout.write(held.getvalue())
        raise


def say(message: str) -> None:
    print(f"[r1zero] {message}", flush=True)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------------------------------------- what runs say


def describe_run(cfg, world: int, model_path: str, n_train: int, n_eval: dict[str, int]) -> list[str]:
    """What a training run is about to do, in a few lines."""
    import torch

    device = "GPU" if torch.cuda.is_available() else "CPU"
    d, r = cfg.data, cfg.rollout
    where = f" ({model_path})" if model_path != cfg.model.name else ""
    lines = [f"model: {cfg.model.name}{where}, {cfg.model.dtype} training, ZeRO-{cfg.train.zero_stage}, "
             f"{world} rank{'s' if world > 1 else ''} ({device})",
             f"task: {d.train} ({n_train} problems), template {d.template}{' in the chat template' if d.chat else ''}"
             f", rewards: {', '.join(cfg.rewards.names)}",
             f"{cfg.algo.advantage} ({cfg.algo.loss}): {plural(cfg.train.steps, 'step')} x "
             f"{plural(cfg.train.prompts_per_step, 'problem')} x {plural(r.group_size, 'sample')}"]
    if n_eval:
        lines.append("held out: " + ", ".join(f"{s} ({n} problems)" for s, n in n_eval.items()))
    return lines


def engine_line(name: str, engine) -> str:
    """`rollouts: vllm (torch.bfloat16)`: the engine that was built, with the dtype it runs in if it has one."""
    dtype = getattr(engine, "dtype", None)
    return f"rollouts: {name}" + (f" ({str(dtype).replace('torch.', '')})" if dtype is not None else "")


def eval_summary(metrics: dict[str, float], before: dict[str, float] | None = None) -> list[str]:
    """One line per suite from `eval/<suite>/<metric>` metrics, e.g. `addition_small_test: accuracy 0.770 (before
    0.420), 200 problems, mean length 9.1 tokens, 2% truncated`."""
    suites = dict.fromkeys(k.split("/")[1] for k in metrics if k.startswith("eval/") and k.count("/") >= 2)
    lines = []
    for suite in suites:
        m = {k[len(f"eval/{suite}/"):]: v for k, v in metrics.items() if k.startswith(f"eval/{suite}/")}
        was = (before or {}).get(f"eval/{suite}/accuracy")
        parts = [f"accuracy {m.get('accuracy', float('nan')):.3f}" + (f" (before {was:.3f})" if was is not None
                                                                      else "")]
        parts += [f"{k} {v:.3f}" for k, v in m.items() if k.startswith(("pass@", "maj@", "reward/"))]
        parts += [f"{m.get('problems', 0):.0f} problems", f"mean length {m.get('mean_length', 0):.1f} tokens",
                  f"{100 * m.get('truncated_frac', 0):.0f}% truncated"]
        failed = m.get("verify/timeouts", 0) + m.get("verify/errors", 0)
        parts += [f"{failed:.0f} scoring errors or timeouts (scored 0)"] if failed else []
        lines.append(f"{suite}: " + ", ".join(parts))
    return lines


def wandb_line(wandb_dir: str | None, url: str | None = None, offline: bool = True) -> str:
    if not wandb_dir:
        return "W&B: off (log.wandb_mode=disabled)"
    if url:
        return f"W&B run: {url} (files in {wandb_dir})"
    if offline:
        return f"W&B: offline run in {wandb_dir} (upload it with `wandb sync {wandb_dir}`)"
    return f"W&B run files: {wandb_dir}"

"""User-facing errors: one class per kind, each with its own exit code, and the one formatter the CLI uses.

    kind        exit   raised for
    config        2    a config file, key or value (r1zero.config; also duplicate keys, non-UTF-8 files)
    data          3    a dataset file or row (r1zero.data; messages name file:line)
    model         4    a model name, directory or its files
    resume        5    a checkpoint to resume from (missing, incomplete, made for another setup)
    rewards       6    building the rewards (a reward module, the worker pool, a model reward)
    disk          7    no space left while writing a checkpoint or a log
    bad_steps     8    `train.max_bad_steps` steps in a row with a non-finite loss, gradient or weight
    internal      1    anything else: a bug. One line with the exception and where it was raised.

`report(exc, verbose)` prints one or two lines (`r1zero: <kind> error: <what, where, how to fix>`) and returns the
exit code; the full traceback only with `log.verbose=true`, `R1ZERO_VERBOSE=1` or `R1ZERO_DEBUG=1`. Under a launcher
with several ranks every rank catches its own error (so torch's `[rankN]:` traceback hook never runs) and the first
rank of a node to report a message prints it (rank 0 first: the others wait a second): an error every rank hits (a
config value) appears once, a rank's own error still appears."""
from __future__ import annotations

import errno
import hashlib
import os
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from pathlib import Path


class R1ZeroError(Exception):
    """An error the user can fix; the message says what, where (key, file:line or path) and how."""

    kind = "internal"
    exit_code = 1


class ConfigError(R1ZeroError, ValueError):
    kind, exit_code = "config", 2


class DataError(R1ZeroError, ValueError):
    kind, exit_code = "data", 3


class ModelError(R1ZeroError, ValueError):
    kind, exit_code = "model", 4


class ResumeError(R1ZeroError):
    kind, exit_code = "resume", 5


class RewardError(R1ZeroError):
    kind, exit_code = "rewards", 6


class DiskError(R1ZeroError, OSError):
    kind, exit_code = "disk", 7


class BadStepsError(R1ZeroError, FloatingPointError):
    kind, exit_code = "bad_steps", 8


NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def debug_env() -> bool:
    """R1ZERO_DEBUG or R1ZERO_VERBOSE set: the same switch as log.verbose (r1zero/console.py reads them too)."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("R1ZERO_VERBOSE", "R1ZERO_DEBUG"))


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message` of a foreign exception."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


@contextmanager
def converting(cls: type[R1ZeroError], key: str, value: str, fix: str,
               types: tuple = (OSError, ValueError, RuntimeError)):
    """Re-raise an exception of `types` from the block as `cls`: its own first line when that names `key`
    already, else "`key=value`: Type: message; fix". Our own errors pass through."""
    try:
        yield
    except R1ZeroError:
        raise
    except types as e:
        first = (str(e).strip().splitlines() or [""])[0]
        raise cls(first if key in first else f"`{key}={value}`: {one_line(e)}; {fix}") from e


def _classify(exc: BaseException) -> tuple[str, int, str]:
    """(kind, exit code, message) for any exception."""
    if isinstance(exc, R1ZeroError) and exc.kind != "internal":
        return exc.kind, exc.exit_code, str(exc)
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        where = f" writing {exc.filename}" if exc.filename else ""
        return "disk", DiskError.exit_code, f"no space left on the device{where}: free space there, or point " \
                                            "log.output_dir at a larger disk"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", 130, "interrupted"
    tb = traceback.extract_tb(exc.__traceback__)
    at = f" (at {_short(tb[-1].filename)}:{tb[-1].lineno} in {tb[-1].name})" if tb else ""
    return "internal", 1, f"{one_line(exc)}{at}; rerun with R1ZERO_DEBUG=1 (or log.verbose=true) for the traceback"


def _short(path: str) -> str:
    parts = Path(path).parts
    for anchor in ("r1zero", "rewards", "site-packages"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[i + (anchor == "site-packages"):])
    return path


def _first_to_report(message: str) -> bool:
    """True unless another rank of this launch on this node already printed `message`. The ranks of one launch
    share the launcher's pid and MASTER_PORT; an exclusive-create marker file under the temp dir decides."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return True
    launch = f"{os.getppid()}:{os.environ.get('MASTER_ADDR', '')}:{os.environ.get('MASTER_PORT', '')}"
    key = hashlib.sha1(f"{launch}\n{message}".encode()).hexdigest()[:20]
    try:
        os.close(os.open(Path(tempfile.gettempdir()) / f"r1zero-error-{key}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    except OSError:
        pass
    return True


def report(exc: BaseException, verbose: bool = False) -> int:
    """Print `exc` for the user (once per launch and node) and return its exit code."""
    kind, code, message = _classify(exc)
    if verbose or debug_env():
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    for bar in list(getattr(getattr(sys.modules.get("tqdm"), "tqdm", None), "_instances", ())):
        bar.close()  # end a live progress line, so that the message starts on its own
    if os.environ.get("RANK", "0") != "0":
        time.sleep(1.0)  # let rank 0 (whose progress line it ends) report an error that every rank hit
    if _first_to_report(f"{kind}:{message}"):
        print(f"r1zero: {kind} error: {message}" if kind != "interrupted" else "r1zero: interrupted",
              file=sys.stderr, flush=True)
    return code

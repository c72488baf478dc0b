"""Trains several configs for a few steps in one process tree: the heavy imports (torch, transformers, DeepSpeed,
vLLM) happen once in this process, then each run is a forked child, so DeepSpeed, vLLM and W&B state stay per run.

    python tests/loop_driver.py OUT_DIR SPECS.json [--jobs 2]

SPECS.json: [{"name": "cpu_default", "config": "launch/configs/cpu_default.yaml" | null, "overrides": [...]}, ...].
Each run writes under OUT_DIR/<name> (log.output_dir and log.run_name are set here) and its output to
OUT_DIR/<name>.log; OUT_DIR/results.json maps each name to {"rc": exit code, "rows": metrics.jsonl rows}.
"""
import json
import os
import sys
import time
from pathlib import Path


def child(out: Path, spec: dict) -> None:
    log = os.open(out / f"{spec['name']}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(log, 1)
    os.dup2(log, 2)
    from r1zero.cli import main

    args = ["train"] + (["--config", spec["config"]] if spec.get("config") else [])
    args += [*spec.get("overrides", []), f"log.output_dir={out}", f"log.run_name={spec['name']}"]
    code = 1
    try:
        main(args)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_all(out: Path, specs: list[dict], jobs: int, timeout_s: float) -> dict:
    import deepspeed  # noqa: F401 - imported once here, inherited by every forked run
    import transformers  # noqa: F401
    import vllm  # noqa: F401

    import r1zero.train  # noqa: F401

    pending, running, results = list(specs), {}, {}
    while pending or running:
        while pending and len(running) < jobs:
            spec = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                child(out, spec)
            running[pid] = (spec["name"], time.monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            for p, (_, start) in list(running.items()):
                if time.monotonic() - start > timeout_s:
                    os.kill(p, 9)
            time.sleep(0.2)
            continue
        name, _ = running.pop(pid)
        metrics = out / name / "metrics.jsonl"
        rows = [json.loads(line) for line in metrics.read_text().splitlines()] if metrics.is_file() else []
        results[name] = {"rc": os.waitstatus_to_exitcode(status), "rows": rows}
    return results


def main() -> None:
    out, specs_file, *rest = sys.argv[1:]
    jobs = int(rest[rest.index("--jobs") + 1]) if "--jobs" in rest else 1
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = run_all(out_dir, json.loads(Path(specs_file).read_text()), jobs, timeout_s=600)
    (out_dir / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()

"""The prepared GPU check: the policy and the GRPO loop on a GPU, three ZeRO stages, peak memory vs the estimate.

A later session with a lent GPU machine (one H200: torch, transformers, accelerate, peft; no deepspeed, no vllm,
no pydantic, no network) runs, from the repository root, with the device tool:

    here, once:      python benchmarks/gpu_check.py --prepare       # .whl/: deepspeed 0.19.8 (wheel built here,
                                                                     # ops left to JIT) + the packages it lacks
    device run:      run(command="python3 benchmarks/gpu_check.py --out $OUT", carry=[".whl"], timeout_s=480)
    a shorter rerun: run(command="python3 benchmarks/gpu_check.py --out $OUT --no-tests --stages 3", carry=[".whl"],
                         timeout_s=300)                      # e.g. one stage, after a fix
    on the CPU:      python benchmarks/gpu_check.py --device cpu --quick

Steps (the same in both modes; `--quick` shrinks the model and the batch):
  1. install the carried wheels into /tmp/site when deepspeed is missing (pip --no-index --no-deps --target);
  2. the `gpu`-marked tests, tests/test_gpu.py: the policy update (ZeRO 0/1/3 and micro-batching equal, the
     reference model, bf16) and two steps of the loop, on the device (R1ZERO_TEST_DEVICE);
  3. three real training steps (`r1zero.train.train`, hf engine, bf16) at ZeRO 1, 2 and 3 on a random model of
     Qwen2.5-0.5B's shape (151,936 vocabulary; --quick: 2 layers, hidden 64, 1,024 vocabulary), one process each.
Reported per stage: `peak_allocated_gib` / `peak_reserved_gib` (torch.cuda.max_memory_*; on the CPU the process's
peak RSS), `estimate_gib` (r1zero.memory for the same config, 1 rank, the GPU's memory), `update_tokens_per_s`
(prompt + completion tokens of a step's batch / its `Policy.update` seconds, mean of steps 2-3; step 1 warms up)
and `update_tflops`: model FLOPs / update seconds, with model FLOPs = 6 x (N - V*d) x tokens + 6 x V*d x
completion tokens (the LM head runs on completion tokens only; attention's T^2 term is not counted, so this is a
lower bound). The JSON is the last line, and is written to --out/gpu_check.json after every phase ("complete":
false until the end). Meant to take under 8 minutes on an H200 (not run on one yet). The --quick CPU mode took
42 s on a quiet 2-core CPU with native bf16 (and 32 minutes on an AVX2-only one under load, where bf16 is emulated).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEELS = ROOT / ".whl"
SITE = Path("/tmp/site")
# deepspeed's dependencies that the GPU image lacks (KINDS.md's package list), and r1zero's (rewards); one version
# each, cp312 manylinux wheels (the GPU machine runs Python 3.12)
PINS = ["hjson==3.1.0", "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0",
        "typing-inspection==0.4.5", "typing-extensions==4.16.0", "pebble==5.2.3", "latex2sympy2_extended==1.11.0",
        "antlr4-python3-runtime==4.13.2"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]


def prepare() -> dict:
    """Fill .whl/ here (PyPI reachable): the pinned wheels for Python 3.12, and deepspeed built from its sdist."""
    WHEELS.mkdir(exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    plat = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run(pip + ["download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                          "--implementation", "cp", *plat, "-d", str(WHEELS), *PINS], check=True)
    subprocess.run(pip + ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(WHEELS), "deepspeed==0.19.8"],
                   check=True, env={**os.environ, "DS_BUILD_OPS": "0"})
    size = sum(f.stat().st_size for f in WHEELS.glob("*.whl"))
    if size > 60 * 2 ** 20:
        raise SystemExit(f".whl/ holds {size / 2 ** 20:.1f} MiB: over the 64 MiB a device call may carry")
    return {"wheels": sorted(f.name for f in WHEELS.glob("*.whl")), "wheels_mib": round(size / 2 ** 20, 2)}


def install_wheels() -> str:
    """PYTHONPATH for the children: the carried wheels when deepspeed is missing, then the repo and tests/."""
    import importlib.util

    paths = [str(ROOT), str(ROOT / "tests")]
    if importlib.util.find_spec("deepspeed") is None:
        wheels = sorted(str(w) for w in WHEELS.glob("*.whl"))
        if not wheels:
            raise SystemExit("deepspeed is not installed and .whl/ is empty: run `python benchmarks/gpu_check.py "
                             "--prepare` where PyPI is reachable, and carry .whl")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                        "--no-cache-dir", "--upgrade", "--target", str(SITE), *wheels], check=True)
        paths.insert(0, str(SITE))
    return os.pathsep.join(paths + [p for p in [os.environ.get("PYTHONPATH")] if p])


def run_tests(env: dict, device: str) -> dict:
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "tests/test_gpu.py", "-q", "-p",
                           "no:cacheprovider"], cwd=ROOT, env={**env, "R1ZERO_TEST_DEVICE": device},
                          capture_output=True, text=True)
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    if proc.returncode:
        print(proc.stdout[-6000:] + proc.stderr[-3000:], file=sys.stderr)
    return {"passed": proc.returncode == 0, "summary": tail, "seconds": round(time.time() - t0, 1)}


def train_overrides(model: str, stage: int, quick: bool, out: str) -> list[str]:
    size = ["train.prompts_per_step=2", "rollout.group_size=4", "train.micro_batch_size=4",
            "rollout.max_new_tokens=16", "data.max_prompt_tokens=64"] if quick else \
        ["train.prompts_per_step=8", "rollout.group_size=8", "train.micro_batch_size=8",
         "rollout.max_new_tokens=512", "data.max_prompt_tokens=256"]
    return [f"model.name={model}", "model.dtype=bf16", f"train.zero_stage={stage}", "train.steps=3",
            "rollout.engine=hf", "data.train=addition", "data.chat=false", "data.template=plain",
            "rewards.names=synthetic_rewards:no_lowercase", "rewards.workers=1", "optim.lr=1e-5",
            "eval.before=false", "eval.after=false", "checkpoint.save_final=false", "checkpoint.export_model=false",
            "log.wandb_mode=disabled", f"log.output_dir={out}", *size]


def train_child(model: str, stage: int, quick: bool, out: str) -> dict:
    """In a child process: three steps of `r1zero.train.train`, timing each `Policy.update`."""
    import resource

    import torch

    from r1zero import policy as policy_module
    from r1zero.config import load_config
    from r1zero.train import train

    updates = []
    update = policy_module.Policy.update
    cuda = torch.cuda.is_available()

    def timed(self, batch):  # measure only: the update itself is unchanged
        if cuda:
            torch.cuda.synchronize()
        t = time.perf_counter()
        result = update(self, batch)
        if cuda:
            torch.cuda.synchronize()
        updates.append({"seconds": time.perf_counter() - t, "tokens": int(batch.attn_mask.sum()),
                        "completion_tokens": int(batch.loss_mask.sum())})
        return result

    policy_module.Policy.update = timed
    cfg = load_config(None, train_overrides(model, stage, quick, out))
    train(cfg)
    if cuda:
        peak = {"peak_allocated_gib": torch.cuda.max_memory_allocated() / 2 ** 30,
                "peak_reserved_gib": torch.cuda.max_memory_reserved() / 2 ** 30}
    else:
        peak = {"peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20}
    return {**peak, "updates": updates}


def stage_row(model: str, stage: int, args, env: dict, gpu_gib: float) -> dict:
    from r1zero.config import load_config
    from r1zero.memory import estimate, model_spec

    with tempfile.TemporaryDirectory() as tmp:
        res_file = Path(tmp) / "res.json"
        t0 = time.time()
        proc = subprocess.run([sys.executable, __file__, "--child", model, str(stage), str(int(args.quick)), tmp,
                               str(res_file)], cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode:
            print(proc.stdout[-3000:] + proc.stderr[-6000:], file=sys.stderr)
            return {"zero_stage": stage, "ok": False, "error": proc.stderr.strip().splitlines()[-1:]}
        res = json.loads(res_file.read_text())
    cfg = load_config(None, train_overrides(model, stage, args.quick, "runs"))
    spec = model_spec(model)
    est = estimate(cfg, 1, gpu_gib, spec)
    timed = res["updates"][1:] or res["updates"]
    secs = sum(u["seconds"] for u in timed)
    tokens, completion = sum(u["tokens"] for u in timed), sum(u["completion_tokens"] for u in timed)
    head = spec.vocab * spec.hidden
    flops = 6 * (spec.params - head) * tokens + 6 * head * completion
    row = {"zero_stage": stage, "ok": True, "seconds": round(time.time() - t0, 1),
           "estimate_gib": round(est.total, 2), "estimate_logits_gib": round(est.logits, 2),
           "update_tokens_per_s": round(tokens / secs, 1), "update_tflops": float(f"{flops / secs / 1e12:.4g}"),
           "update_s": [round(u["seconds"], 3) for u in res["updates"]], "tokens_per_update": timed[0]["tokens"]}
    row.update({k: round(v, 2) for k, v in res.items() if k.startswith("peak")})
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny model and batch (the CPU mode)")
    ap.add_argument("--prepare", action="store_true", help="fill .whl/ (here, where PyPI is reachable) and stop")
    ap.add_argument("--out", default=os.environ.get("OUT", ""), help="folder for gpu_check.json")
    ap.add_argument("--stages", default="1,2,3", help="ZeRO stages of the training steps, comma-separated")
    ap.add_argument("--no-tests", action="store_true", help="skip the gpu-marked tests")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        model, stage, quick, out, res_file = args.child
        Path(res_file).write_text(json.dumps(train_child(model, int(stage), quick == "1", out)))
        return
    if args.prepare:
        print(json.dumps(prepare()))
        return
    t0 = time.time()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", WANDB_SILENT="true", PYTHONUNBUFFERED="1")
    if args.device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU mode stays on the CPU on a GPU machine too
    env["PYTHONPATH"] = install_wheels()
    sys.path[:0] = env["PYTHONPATH"].split(os.pathsep)
    import torch

    from gpu_models import QUICK, QWEN25_05B, random_model

    gpu = {}
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda but torch sees no GPU: pass --device cpu --quick")
        props = torch.cuda.get_device_properties(0)
        gpu = {"gpu": props.name, "gpu_gib": round(props.total_memory / 2 ** 30, 1)}
    report = {"mode": f"{args.device}{' quick' if args.quick else ''}", **gpu, "torch": torch.__version__,
              "training": []}

    def save(final: bool = False) -> None:  # after every phase: a run stopped at its time limit keeps what it did
        report["wall_s"] = round(time.time() - t0, 1)
        report["complete"] = final
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=1))

    report["tests"] = {"passed": True, "summary": "skipped (--no-tests)"} if args.no_tests else \
        run_tests(env, args.device)
    save()
    with tempfile.TemporaryDirectory() as tmp:
        model = str(random_model(Path(tmp) / "model", QUICK if args.quick else QWEN25_05B))
        for stage in (int(x) for x in args.stages.split(",")):
            report["training"].append(stage_row(model, stage, args, env, gpu.get("gpu_gib", 80.0)))
            save()
    report["ok"] = report["tests"]["passed"] and all(r["ok"] for r in report["training"])
    save(final=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()

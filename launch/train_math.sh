#!/usr/bin/env bash
# launch/train_math.sh: start r1zero training on this machine, on the nodes of a DeepSpeed hostfile, or on a
# Slurm allocation (launch/slurm/train_math.sbatch calls it). `make train-math` calls it on machines with GPUs.
#
#   launch/train_math.sh [options] [--] [section.key=value ...]
#
#   --config PATH        recipe (default: launch/configs/gpu_default.yaml with GPUs or nodes, else cpu_default.yaml)
#   --hostfile PATH      DeepSpeed hostfile, one `host slots=N` line per node (launch/hostfile.example)
#   --nodes N|h1,h2,...  the first N hosts of the hostfile, or these hosts (slots: --num-gpus, else local GPUs)
#   --num-gpus G         GPUs (ranks) per node (default: the hostfile's slots, or every GPU of this machine)
#   --rollout-nodes K    the last K nodes run `vllm serve` rollout servers (one per rollout.tensor_parallel_size GPUs,
#                        with r1zero's plugin and guard, weights over vLLM's NCCL transfer); training runs on the
#                        others with rollout.engine=server rollout.servers=<those servers> rollout.api_key_file=<key>
#   --rollout-port P     port of the first server on a rollout node, the next ones count up (default 8000)
#   --rollout-bind ADDR  the address servers listen on (default: the node's name in the hostfile, the address the
#                        trainer reaches them at; 0.0.0.0 listens on every interface)
#   --master-port P      torch.distributed rendezvous port on the first host (default 29500)
#   --run-name NAME      log.run_name: a fixed name resumes from the run's last checkpoint (checkpoint.resume=auto)
#   --launcher ssh|srun  how commands reach other nodes (default: srun inside a Slurm job, else ssh)
#   --dry-run            check everything, print the exact command of every node, exit
#
# Without GPUs and without nodes: one process on the CPU (`python -m r1zero.cli train`). With GPUs and no nodes:
# DeepSpeed over this machine's GPUs. With nodes: every training node runs `deepspeed --hostfile H --no_ssh
# --node_rank R ...` (DeepSpeed's launcher, one process per GPU), started from here over ssh or srun; the repository,
# its .venv and the hostfile must be at the same path on every node (a shared filesystem).
# The hostfile and the config (for the real number of ranks) are checked before anything starts.
# Environment: NCCL_* variables travel to every node; OMP_NUM_THREADS (default 1 per rank); R1ZERO_PYTHON,
# R1ZERO_DEEPSPEED (interpreter and launcher); R1ZERO_LOCAL_GPUS (instead of nvidia-smi); R1ZERO_GPU_GIB (memory
# estimate); R1ZERO_SERVER_GPU_UTIL (rollout servers' gpu_memory_utilization, 0.9); R1ZERO_SERVER_TIMEOUT (1800 s);
# R1ZERO_API_KEY_FILE (the servers' shared key, default runs/launch/rollout-<port>.key, written with a new random
# key when missing; it must be on the shared filesystem).
set -euo pipefail

die() { printf 'train_math.sh: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "${BASH_SOURCE[0]}"; }

# Quote for a shell command line; plain words stay plain.
quote() {
  local out=() a
  for a in "$@"; do
    if [[ $a =~ ^[A-Za-z0-9_./:=,@+%-]+$ ]]; then out+=("$a"); else out+=("'${a//\'/\'\\\'\'}'"); fi
  done
  printf '%s' "${out[*]}"
}

plural() { printf '%s %s' "$1" "$2"; (($1 == 1)) || printf 's'; }

abs_path() {  # $1 relative to the caller's directory (else to the repository), shown relative to the repository
  local p=$1
  if [[ $p != /* ]]; then
    if [[ -e $CALLER_DIR/$p || ! -e $ROOT/$p ]]; then p="$CALLER_DIR/$p"; else p="$ROOT/$p"; fi
  fi
  [[ -e $p ]] && p="$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
  printf '%s' "${p#"$ROOT"/}"
}

parse_args() {
  CONFIG="" HOSTFILE="" NODES="" NUM_GPUS="" ROLLOUT_NODES=0 ROLLOUT_PORT=8000 ROLLOUT_BIND="" MASTER_PORT=29500
  RUN_NAME=""
  LAUNCHER="" DRY_RUN=0 OVERRIDES=()
  while (($#)); do
    case $1 in
      --config | --hostfile | --nodes | --num-gpus | --num-nodes | --rollout-nodes | --rollout-port | \
      --rollout-bind | --master-port | --run-name | --launcher)
        (($# >= 2)) || die "$1 needs a value (see --help)"
        case $1 in
          --config) CONFIG=$2 ;; --hostfile) HOSTFILE=$2 ;; --nodes|--num-nodes) NODES=$2 ;;
          --num-gpus) NUM_GPUS=$2 ;; --rollout-nodes) ROLLOUT_NODES=$2 ;; --rollout-port) ROLLOUT_PORT=$2 ;;
          --rollout-bind) ROLLOUT_BIND=$2 ;;
          --master-port) MASTER_PORT=$2 ;; --run-name) RUN_NAME=$2 ;; --launcher) LAUNCHER=$2 ;;
        esac
        shift 2 ;;
      --dry-run) DRY_RUN=1; shift ;;
      -h|--help) usage; exit 0 ;;
      --) shift; OVERRIDES+=("$@"); break ;;
      -*) die "unknown option $1 (see --help)" ;;
      *=*) OVERRIDES+=("$1"); shift ;;
      *) die "unexpected argument \`$1\`: config overrides look like section.key=value (see --help)" ;;
    esac
  done
  local n
  for n in ROLLOUT_NODES ROLLOUT_PORT MASTER_PORT ${NUM_GPUS:+NUM_GPUS}; do
    [[ ${!n} =~ ^[0-9]+$ ]] || die "--$(tr 'A-Z_' 'a-z-' <<<"$n") must be a number, got \`${!n}\`"
  done
  [[ -z $LAUNCHER || $LAUNCHER == ssh || $LAUNCHER == srun ]] || die "--launcher is ssh or srun, got \`$LAUNCHER\`"
}

read_hostfile() {  # $1 -> HOSTS[], SLOTS[]; same rules as DeepSpeed's parser, checked here with line numbers
  local file=$1 n=0 line host slots
  local -A seen=()
  [[ -f $file ]] || die "hostfile $file does not exist: write one \`<host> slots=<GPUs>\` line per node" \
    "(see launch/hostfile.example), or leave --hostfile out to train on this machine only"
  while IFS= read -r line || [[ -n $line ]]; do
    n=$((n + 1))
    line=${line%%#*}
    [[ $line =~ ^[[:space:]]*$ ]] && continue
    [[ $line =~ ^[[:space:]]*([A-Za-z0-9][A-Za-z0-9._-]*)[[:space:]]+slots=([0-9]+)[[:space:]]*$ ]] ||
      die "$file:$n: bad line \`$line\`: write \`<hostname> slots=<number of GPUs>\`, e.g. \`gpu-node-01 slots=8\`" \
        "(comments start with #)"
    host=${BASH_REMATCH[1]} slots=$((10#${BASH_REMATCH[2]}))
    ((slots >= 1)) || die "$file:$n: \`$host slots=$slots\`: slots must be at least 1 (the node's GPU count)"
    [[ -z ${seen[$host]:-} ]] || die "$file:$n: host $host is listed twice (first on line ${seen[$host]}):" \
      "list each node once, with all of its GPUs in slots="
    seen[$host]=$n
    HOSTS+=("$host") SLOTS+=("$slots")
  done <"$file"
  ((${#HOSTS[@]})) || die "hostfile $file lists no hosts: add one \`<host> slots=<GPUs>\` line per node"
}

select_nodes() {  # --hostfile / --nodes -> HOSTS[], SLOTS[], HOSTFILE (the file every node's DeepSpeed reads)
  HOSTS=() SLOTS=()
  if [[ -n $HOSTFILE ]]; then
    HOSTFILE=$(abs_path "$HOSTFILE")
    read_hostfile "$HOSTFILE"
  fi
  [[ -z $NODES ]] && return 0
  if [[ $NODES =~ ^[0-9]+$ ]]; then
    [[ -n $HOSTFILE ]] || die "--nodes $NODES picks the first $NODES hosts of a hostfile: give --hostfile too," \
      "or name the hosts (--nodes host1,host2)"
    ((NODES >= 1 && NODES <= ${#HOSTS[@]})) || die "--nodes $NODES: $HOSTFILE lists ${#HOSTS[@]} hosts"
    HOSTS=("${HOSTS[@]:0:NODES}") SLOTS=("${SLOTS[@]:0:NODES}")
    return 0
  fi
  [[ -z $HOSTFILE ]] || die "give either --hostfile or a host list in --nodes, not both"
  local slots=${NUM_GPUS:-$LOCAL_GPUS} h
  local -A seen=()
  ((slots >= 1)) || die "--nodes $NODES: how many GPUs per node? pass --num-gpus G"
  IFS=, read -r -a HOSTS <<<"$NODES"
  for h in "${HOSTS[@]}"; do
    [[ $h =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--nodes $NODES: \`$h\` is not a host name (write host1,host2)"
    [[ -z ${seen[$h]:-} ]] || die "--nodes $NODES: host $h is listed twice"
    seen[$h]=1
    SLOTS+=("$slots")
  done
  HOSTFILE="runs/launch/hostfile-$(printf '%s' "$NODES" | cksum | cut -d' ' -f1)"
  ((DRY_RUN)) && return 0
  mkdir -p runs/launch
  for h in "${HOSTS[@]}"; do printf '%s slots=%s\n' "$h" "$slots"; done >"$HOSTFILE"
}

# The Python side: load + validate the config for the real number of ranks, and read what the launch needs.
py_config() {  # py_config rollout|memory WORLD CONFIG OVERRIDES...
  "$PY" - "$@" <<'PYEOF'
import sys
from r1zero.config import ConfigError, load_config, validate
what, world, path, *overrides = sys.argv[1:]
try:
    cfg = load_config(path, overrides)
    validate(cfg, int(world))
except ConfigError as e:
    print(e)
    sys.exit(2)
if what == "rollout":
    r = cfg.rollout
    print(cfg.model.name, r.tensor_parallel_size, cfg.data.max_prompt_tokens + max(r.max_new_tokens,
          cfg.eval.max_new_tokens), r.vllm_dtype, cfg.train.seed)
else:
    import os
    from r1zero.memory import estimate
    gib = float(os.environ.get("R1ZERO_GPU_GIB_RESOLVED", "80"))
    print(cfg.rollout.engine)
    try:
        est = estimate(cfg, int(world), gib)
        print(f"{est.total:.1f} GiB of {gib:g} GiB" + ("  WARNING: more than the GPU has" if est.total > gib else ""))
    except ConfigError as e:
        print(f"unknown ({e})")
PYEOF
}

check_config() {  # check_config WHAT WORLD OVERRIDES... -> stdout of py_config, or a clear error
  local what=$1 world=$2 out
  shift 2
  if ! out=$(py_config "$what" "$world" "$CONFIG" "$@"); then
    die "config error in $CONFIG (with overrides: ${*:-none}; $world ranks): $out"
  fi
  printf '%s' "$out"
}

cluster_env() {  # the environment of every rank and server: set here, and only here
  local env=(
    "OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}"  # torch slows ~10x when ranks oversubscribe the cores
    "TOKENIZERS_PARALLELISM=false"
    "PYTHONUNBUFFERED=1"
    "NCCL_DEBUG=${NCCL_DEBUG:-WARN}"
    "TORCH_NCCL_ASYNC_ERROR_HANDLING=${TORCH_NCCL_ASYNC_ERROR_HANDLING:-1}"  # a failed collective aborts, no hang
  ) v
  for v in $(compgen -e | grep '^NCCL_' | grep -vx 'NCCL_DEBUG' | sort); do env+=("$v=${!v}"); done
  quote "${env[@]}"
}

plan() {  # -> PLAN_HOSTS[], PLAN_ROLES[], PLAN_SCRIPTS[], SERVER_URLS[], HEADER
  PLAN_HOSTS=() PLAN_ROLES=() PLAN_SCRIPTS=() SERVER_URLS=()
  local n_nodes=${#HOSTS[@]} env cd_root
  env=$(cluster_env)
  cd_root="cd $(quote "$ROOT") &&"
  if ((n_nodes == 0)); then
    ((ROLLOUT_NODES == 0)) || die "--rollout-nodes needs several nodes: give --hostfile (or --nodes host1,host2)"
    local gpus=${NUM_GPUS:-$LOCAL_GPUS}
    if ((gpus == 0)); then
      check_config memory 1 "${OVERRIDES[@]}" >/dev/null
      HEADER="# r1zero launch plan: this machine, no GPU: one process on the CPU"$'\n'"# config: $CONFIG (validated)"
      PLAN_HOSTS=(localhost) PLAN_ROLES=("training, 1 process")
      PLAN_SCRIPTS=("$cd_root $(quote "$PY" -m r1zero.cli train --config "$CONFIG" "${OVERRIDES[@]}")")
      return 0
    fi
    local info kind="GPUs"
    info=$(check_config memory "$gpus" "${OVERRIDES[@]}")
    ((LOCAL_GPUS > 0)) || kind="CPU ranks (gloo, no GPU)"
    HEADER="# r1zero launch plan: this machine, $gpus $kind = $gpus ranks; rollouts: rollout.engine=${info%%$'\n'*}"
    HEADER+=$'\n'"# config: $CONFIG (validated for $gpus ranks)"
    ((LOCAL_GPUS == 0)) || HEADER+=$'\n'"# memory per GPU (r1zero/memory.py estimate): ${info#*$'\n'}"
    PLAN_HOSTS=(localhost) PLAN_ROLES=("training, $gpus ranks")
    PLAN_SCRIPTS=("$cd_root $env $(quote "$DS" --num_gpus "$gpus" --master_port "$MASTER_PORT" --no_local_rank \
      --module r1zero train --config "$CONFIG" "${OVERRIDES[@]}")")
    return 0
  fi
  local n_train=$((n_nodes - ROLLOUT_NODES)) i
  ((n_train >= 1)) || die "--rollout-nodes $ROLLOUT_NODES leaves no training node out of $n_nodes"
  local gpus=${NUM_GPUS:-${SLOTS[0]}}
  for ((i = 0; i < n_nodes; i++)); do
    if [[ -n $NUM_GPUS ]]; then
      ((NUM_GPUS <= SLOTS[i])) || die "--num-gpus $NUM_GPUS: ${HOSTS[i]} has slots=${SLOTS[i]} in $HOSTFILE"
    elif ((i < n_train && SLOTS[i] != gpus)); then
      die "training hosts have different slots (${HOSTS[0]}: $gpus, ${HOSTS[i]}: ${SLOTS[i]}) in $HOSTFILE:" \
        "give every training node the same GPU count, or pass --num-gpus G"
    fi
  done
  local world=$((n_train * gpus)) extra=() info rollout_desc
  if ((ROLLOUT_NODES > 0)); then
    plan_servers "$n_train" "$env" "$cd_root"
    extra=(rollout.engine=server "rollout.servers=$(IFS=,; echo "${SERVER_URLS[*]}")" "rollout.api_key_file=$KEY_FILE")
  fi
  info=$(check_config memory "$world" "${OVERRIDES[@]}" "${extra[@]}")
  rollout_desc="rollout.engine=${info%%$'\n'*}"
  ((ROLLOUT_NODES == 0)) || rollout_desc+=", ${#SERVER_URLS[@]} vLLM servers on $(plural "$ROLLOUT_NODES" node)"
  HEADER="# r1zero launch plan: $(plural "$n_train" "training node") x $gpus GPUs = $world ranks;"
  HEADER+=" rollouts: $rollout_desc"
  HEADER+=$'\n'"# config: $CONFIG (validated for $world ranks)"
  HEADER+=$'\n'"# memory per GPU (r1zero/memory.py estimate): ${info#*$'\n'}"
  HEADER+=$'\n'"# hostfile: $HOSTFILE; launcher: $LAUNCHER to the other nodes; each node runs the lines under its name"
  for ((i = 0; i < n_train; i++)); do
    PLAN_HOSTS+=("${HOSTS[i]}") PLAN_ROLES+=("training node_rank $i$( ((i)) || echo ' (master)')")
    PLAN_SCRIPTS+=("$cd_root $env $(quote "$DS" --hostfile "$HOSTFILE" --no_ssh --node_rank "$i" --num_nodes \
      "$n_train" --num_gpus "$gpus" --master_addr "${HOSTS[0]}" --master_port "$MASTER_PORT" --no_local_rank \
      --module r1zero train --config "$CONFIG" "${OVERRIDES[@]}" "${extra[@]}")")
  done
}

plan_servers() {  # plan_servers N_TRAIN ENV CD_ROOT: one vLLM server per tensor_parallel_size GPUs of each rollout node
  local n_train=$1 env=$2 cd_root=$3 model tp max_len dtype seed i j g k=0 script devices info cmd
  info=$(check_config rollout 1 "${OVERRIDES[@]}")
  read -r model tp max_len dtype seed <<<"$info"
  KEY_FILE=${R1ZERO_API_KEY_FILE:-runs/launch/rollout-$ROLLOUT_PORT.key}
  for ((i = n_train; i < ${#HOSTS[@]}; i++)); do
    g=${NUM_GPUS:-${SLOTS[i]}}
    ((g % tp == 0)) || die "rollout node ${HOSTS[i]} has $g GPUs, not a multiple of rollout.tensor_parallel_size=$tp"
    script=""
    for ((j = 0; j < g / tp; j++, k++)); do
      devices=$(seq -s, $((j * tp)) $((j * tp + tp - 1)))
      cmd=$("$PY" -m r1zero.rollout.vllm_plugin --model "$model" --host "${ROLLOUT_BIND:-${HOSTS[i]}}" \
        --port $((ROLLOUT_PORT + j)) --seed $((seed + k)) --max-model-len "$max_len" --dtype "$dtype" \
        --gpu-memory-utilization "${R1ZERO_SERVER_GPU_UTIL:-0.9}" --tensor-parallel-size "$tp") ||
        die "cannot build the vllm serve command (python -m r1zero.rollout.vllm_plugin failed)"
      script+="$cd_root $env CUDA_VISIBLE_DEVICES=$devices VLLM_SERVER_DEV_MODE=1 \
R1ZERO_API_KEY_FILE=$(quote "$KEY_FILE") $cmd &"$'\n'
      SERVER_URLS+=("http://${HOSTS[i]}:$((ROLLOUT_PORT + j))")
    done
    PLAN_HOSTS+=("${HOSTS[i]}") PLAN_ROLES+=("rollout, $((g / tp)) vLLM servers") PLAN_SCRIPTS+=("${script}wait")
  done
}

write_key() {  # a new random key for the servers and the trainer, readable by this user only
  [[ -s $KEY_FILE ]] && return 0
  mkdir -p "$(dirname "$KEY_FILE")"
  (umask 077 && "$PY" -c 'import secrets; print(secrets.token_hex(32))' >"$KEY_FILE")
}

print_plan() {
  local i
  printf '%s\n' "$HEADER"
  for i in "${!PLAN_HOSTS[@]}"; do
    printf '# %s: %s\n%s\n' "${PLAN_HOSTS[i]}" "${PLAN_ROLES[i]}" "${PLAN_SCRIPTS[i]}"
    if [[ ${PLAN_ROLES[i]} == rollout* && ${PLAN_ROLES[i + 1]:-} != rollout* ]]; then
      printf '# then, from here: wait until %s answer /health (up to %s s)\n' "${SERVER_URLS[*]}" \
        "${R1ZERO_SERVER_TIMEOUT:-1800}"
    fi
  done
}

# ------------------------------------------------------------------------------------------------ running

is_local() {
  [[ $1 == localhost || $1 == 127.0.0.1 || $1 == "$(hostname)" || $1 == "$(hostname -s 2>/dev/null)" ]]
}

run_on() {  # run_on HOST SCRIPT: in the background, in its own process group (set -m), PID in LAST_PID
  if is_local "$1"; then
    bash -c "$2" &
  elif [[ $LAUNCHER == srun ]]; then
    srun --nodes=1 --ntasks=1 --nodelist="$1" --overlap --kill-on-bad-exit=1 bash -c "$2" &
  else  # -tt: when this ssh ends, the remote side is hung up and its processes end too
    ssh -tt -o BatchMode=yes "$1" "bash -c $(quote "$2")" </dev/null &
  fi
  LAST_PID=$!
}

# shellcheck disable=SC2317,SC2329  # run by the EXIT trap below, which shellcheck does not follow
stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

wait_for_servers() {
  local deadline=$((SECONDS + ${R1ZERO_SERVER_TIMEOUT:-1800})) url pid
  for url in "${SERVER_URLS[@]}"; do
    until "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=5)' \
        "$url" 2>/dev/null; do
      for pid in "${PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null || die "a rollout node's servers exited before $url answered (see their log above)"
      done
      ((SECONDS < deadline)) || die "rollout server $url did not answer /health within ${R1ZERO_SERVER_TIMEOUT:-1800} s"
      sleep 5
    done
  done
  echo "[train_math] rollout servers ready: ${SERVER_URLS[*]}"
}

launch() {
  local i pid rc train=() running
  PIDS=()
  set -m
  trap stop_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  ((${#SERVER_URLS[@]} == 0)) || write_key
  for i in "${!PLAN_HOSTS[@]}"; do
    [[ ${PLAN_ROLES[i]} == rollout* ]] || continue
    run_on "${PLAN_HOSTS[i]}" "${PLAN_SCRIPTS[i]}"
    PIDS+=("$LAST_PID")
  done
  ((${#SERVER_URLS[@]} == 0)) || wait_for_servers
  for i in "${!PLAN_HOSTS[@]}"; do
    [[ ${PLAN_ROLES[i]} == training* ]] || continue
    run_on "${PLAN_HOSTS[i]}" "${PLAN_SCRIPTS[i]}"
    PIDS+=("$LAST_PID") train+=("$i:$LAST_PID")
  done
  while ((${#train[@]})); do  # the first training node that fails stops all (the EXIT trap)
    running=()
    for i in "${train[@]}"; do
      pid=${i#*:}
      if kill -0 "$pid" 2>/dev/null; then running+=("$i"); continue; fi
      rc=0
      wait "$pid" || rc=$?
      ((rc == 0)) || { echo "train_math.sh: training on ${PLAN_HOSTS[${i%%:*}]} exited with $rc" >&2; exit "$rc"; }
    done
    train=("${running[@]}")
    ((${#train[@]} == 0)) || sleep 2
  done
}

main() {
  CALLER_DIR=$(pwd)
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  parse_args "$@"
  cd "$ROOT"
  PY=${R1ZERO_PYTHON:-$([[ -x .venv/bin/python ]] && echo .venv/bin/python || echo python3)}
  DS=${R1ZERO_DEEPSPEED:-$([[ -x $(dirname "$PY")/deepspeed ]] && echo "$(dirname "$PY")/deepspeed" || echo deepspeed)}
  LOCAL_GPUS=${R1ZERO_LOCAL_GPUS:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)}
  local mib
  mib=$(nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits 2>/dev/null | head -1 || true)
  export R1ZERO_GPU_GIB_RESOLVED=${R1ZERO_GPU_GIB:-$([[ $mib =~ ^[0-9]+$ ]] && echo $((mib / 1024)) || echo 80)}
  [[ -n $LAUNCHER ]] || LAUNCHER=$([[ -n ${SLURM_JOB_ID:-} ]] && command -v srun >/dev/null && echo srun || echo ssh)
  select_nodes
  if [[ -z $CONFIG ]]; then
    CONFIG=launch/configs/$( ((LOCAL_GPUS > 0 || ${#HOSTS[@]} > 0)) && echo gpu || echo cpu)_default.yaml
  fi
  CONFIG=$(abs_path "$CONFIG")
  [[ -f $CONFIG ]] || die "config $CONFIG does not exist: pass --config PATH (recipes: launch/configs/*.yaml)"
  [[ -z $RUN_NAME ]] || OVERRIDES=("log.run_name=$RUN_NAME" "${OVERRIDES[@]}")
  plan
  print_plan
  ((DRY_RUN)) && exit 0
  launch
}

main "$@"; exit  # on one line: bash has read it before it runs, so editing this file mid-run is safe

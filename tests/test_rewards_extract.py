"""Final-answer extraction, format rewards and the countdown verifier: tables of positives and negatives."""
from __future__ import annotations

import pytest

from rewards import REWARDS, extract, extract_answer
from rewards.countdown import EquationError, evaluate
from rewards.format import boxed_format, r1_format

# (completion, expected answer, expected source)
FOUND = [
    ("57", "57", "last_number"),
    ("The sum is 57.", "57", "last_number"),
    ("25 + 32 = 57", "57", "last_number"),
    ("It is -3.", "-3", "last_number"),
    ("So the total is 1,000 apples", "1,000", "last_number"),
    (r"so $x = \boxed{\frac{1}{2}}$.", r"\frac{1}{2}", "boxed"),
    (r"\boxed{\left(3, \frac{\pi}{2}\right)}", r"\left(3, \frac{\pi}{2}\right)", "boxed"),
    (r"\boxed{\boxed{7}}", "7", "boxed"),
    (r"\fbox{12}", "12", "boxed"),
    (r"answer \boxed 5", "5", "boxed"),
    (r"first \boxed{4}, check ... yes \boxed{4}", "4", "boxed"),
    (r"\boxed{\frac12} that is \boxed{0.5}", "0.5", "boxed"),
    (r"\boxed{\{1,2\}}", r"\{1,2\}", "boxed"),
    ("16 - 3 - 4 = 9\n#### 18", "18", "hash"),
    ("Answer: 42", "42", "answer_line"),
    ("**Final Answer:** $\\frac{3}{4}$", r"\frac{3}{4}", "answer_line"),
    ("Final Answer: The final answer is $5$. I hope it is correct.", "5", "answer_line"),
    ("Thus the final answer is 12.", "12", "answer_line"),
    ("I think the answer is 7", "7", "answer_line"),
    ("<think>2+2</think> <answer>4</answer>", "4", "answer_block"),
    ("<think>maybe \\boxed{3}</think><answer>5</answer>", "5", "answer_block"),
    ("<think>x</think> <answer>The answer is \\boxed{9}</answer>", "9", "boxed"),
    ("<think>scratch 17</think> so 18", "18", "last_number"),
    ("\\boxed{3}\n#### 5", "3", "boxed"),
    ("the answer is 12. Then the answer is 13.", "13", "answer_line"),  # a later statement supersedes
    (r"\boxed{12}. Checking again, it is \boxed{13}", "13", "boxed"),
    ("The point is $(3,-2)$.", "(3,-2)", "math_span"),
    ("Hence $x >= 2$.", "x >= 2", "math_span"),
    ("The correct option is C.", "C", "answer_line"),
    ("Of these, $16$ and $36$ end in $6$, so there are $2$ values.", "2", "math_span"),
    ("there are 12 of them, since $d = 90/n$ must divide. There are 12 sequences.", "12", "last_number"),
    ("Answer: 8<|im_end|>\n<|im_start|>user\nAnd 9?<|im_end|>\n<|im_start|>assistant\nAnswer: 9", "8", "answer_line"),
]
# (completion, fallback_last_number) -> no answer
NOT_FOUND = [
    ("", True), ("no digits here", True), ("57", False), ("The sum is 57.", False), (r"\boxed{}", True),
    (r"\boxed{ 3", False), ("<think>only thinking \\boxed{4}</think>", True), ("<answer></answer>", True),
    (r"\boxed{3} or \boxed{5}", True), ("The answer is not 5.", True),
    ("#### 3\n#### 4", True), ("<answer>3</answer><answer>4</answer>", True),
]


@pytest.mark.parametrize("text,answer,source", FOUND)
def test_extracts(text, answer, source):
    ex = extract(text)
    assert (ex.answer, ex.source) == (answer, source)
    assert not ex.conflict


@pytest.mark.parametrize("text,fallback", NOT_FOUND)
def test_no_answer(text, fallback):
    assert extract_answer(text, fallback_last_number=fallback) is None


def test_conflicts_list_their_candidates():
    ex = extract(r"\boxed{3} or \boxed{5} or \boxed{3}")
    assert ex.conflict and ex.answer is None and ex.candidates == ("3", "5")


@pytest.mark.parametrize("completion,gold,want", [
    ("57", "57", 1.0), ("The sum is 57.", "57", 1.0), ("I get 56. Hmm.", "57", 0.0),
    (r"\boxed{57}", "57", 1.0), (r"\boxed{57} or \boxed{58}", "57", 0.0),
    (r"\boxed{\frac{1}{2}} \boxed{0.5}", "1/2", 1.0),
    ("<think>57?</think><answer>56</answer>", "57", 0.0), ("#### 1,234", "1234", 1.0), ("", "1", 0.0),
])
def test_accuracy_reward(completion, gold, want):
    result = REWARDS["accuracy"](completion, {"answer": gold})
    assert result.score == want, result.info


@pytest.mark.parametrize("completion,gold,want", [
    ("The answer is 42.", "$42$", 1.0), ("The answer is 42.", r"\boxed{42}", 1.0),
    ("The answer is 42.", "6 * 7 = <<6*7=42>>42 marbles.\n#### 42", 1.0), ("The answer is 24.", "#### 42", 0.0),
    (r"The roots are $\boxed{2}$ and $\boxed{-3}$.", "2, -3", 1.0), (r"\boxed{2} or \boxed{-3}", "2", 0.0),
    ("The correct option is C.", r"\text{(C)}", 1.0), ("__import__('os').system('x') or 0", "0", 0.0),
    ("So there are 10 ways. Note that with the empty set it would give 11.", "11", 0.0),
])
def test_accuracy_reads_the_gold_like_a_response(completion, gold, want):
    result = REWARDS["accuracy"](completion, {"answer": gold})
    assert result.score == want, result.info


@pytest.mark.parametrize("response,gold,want", [
    ("$x = 3$", "3", 1.0), ("Answer: 5", "5", 1.0), (r"\boxed{7}", "7", 1.0), ("7 cm", "7", 1.0),
    ("Soucis : 2,74 $ a..", "2.74", 1.0), ("not 5", "5", 0.0), ("x = 2 or x = 3", "2", 0.0),
])
def test_answer_equal_reads_a_written_final_answer(response, gold, want):
    result = REWARDS["answer_equal"](response, {"answer": gold})
    assert result.score == want, result.info


def test_accuracy_strict_needs_explicit_answer():
    assert REWARDS["accuracy_strict"]("57", {"answer": "57"}).score == 0.0
    assert REWARDS["accuracy_strict"]("Answer: 57", {"answer": "57"}).score == 1.0


def test_missing_gold_is_an_error_not_a_crash():
    result = REWARDS["accuracy"]("57", {})
    assert result.score == 0.0 and "error" in result.info
    assert "error" in REWARDS["accuracy"](None, {"answer": "1"}).info  # type: ignore[arg-type]


R1_STRICT_OK = ["<think>a</think><answer>b</answer>", "  <think>\nreason\n</think>\n<answer>\n4\n</answer>\n"]
R1_STRICT_BAD = ["<think>a</think> text <answer>b</answer>", "pre <think>a</think><answer>b</answer>",
                 "<think>a</think><answer>b</answer> post", "<think></think><answer>b</answer>",
                 "<think>a</think><answer> </answer>", "<think>a</think><answer>b</answer><answer>c</answer>",
                 "<answer>b</answer><think>a</think>", "a</think><answer>b</answer>", "<think>a<answer>b</answer>", ""]


@pytest.mark.parametrize("text", R1_STRICT_OK)
def test_r1_strict_ok(text):
    assert r1_format(text, strict=True) == (True, "ok")
    assert REWARDS["format"](text, {}).score == 1.0


@pytest.mark.parametrize("text", R1_STRICT_BAD)
def test_r1_strict_bad(text):
    ok, reason = r1_format(text, strict=True)
    assert not ok and reason != "ok"


@pytest.mark.parametrize("text,ok", [
    ("a</think> so <answer>b</answer> trailing", True), ("<think>a</think>x<answer>b</answer>", True),
    ("<think>a</think>", False), ("<answer>b</answer>", False), ("a</think><answer></answer>", False),
    ("</think><think><answer>b</answer>", False),
])
def test_r1_soft(text, ok):
    assert r1_format(text, strict=False)[0] is ok


@pytest.mark.parametrize("text,ok", [
    (r"so \boxed{4}", True), (r"\boxed{4} and again \boxed{4}", True), ("no box", False), (r"\boxed{}", False),
    (r"\boxed{3} \boxed{4}", False), (r"\boxed{4", False),
])
def test_boxed_format(text, ok):
    assert boxed_format(text)[0] is ok


@pytest.mark.parametrize("completion,numbers,target,score", [
    ("<answer>(5 + 3) * 2</answer>", [5, 3, 2], 16, 1.0),
    ("<answer>(5 + 3) * 2 = 16</answer>", [2, 3, 5], 16, 1.0),
    (r"so \boxed{44 - 19 + 3}", [19, 44, 3], 28, 1.0),
    ("we get\n100 / (7 - 2) \u00d7 3 = 60", [100, 7, 2, 3], 60, 1.0),
    ("<answer>5 * 3 + 2</answer>", [5, 3, 2], 16, 0.0),  # wrong value
    ("<answer>5 + 3 + 8</answer>", [5, 3, 2], 16, 0.0),  # number not given
    ("<answer>(5 + 3) * 2 * 1</answer>", [5, 3, 2], 16, 0.0),  # extra number
    ("<answer>(5 + 3) * 2</answer>", [5, 3, 2, 2], 16, 0.0),  # number unused
    ("<answer>-5 + 21</answer>", [5, 21], 16, 0.0),  # unary minus is not allowed
    ("<answer>16 / (2 - 2)</answer>", [16, 2, 2], 16, 0.0),  # division by zero
    ("<answer>2 ** 4</answer>", [2, 4], 16, 0.0),  # power is not allowed
    ("no equation", [1, 2], 3, 0.0),
])
def test_countdown(completion, numbers, target, score):
    assert REWARDS["countdown"](completion, {"numbers": numbers, "target": target}).score == score


def test_countdown_bad_sample_is_an_error():
    assert "error" in REWARDS["countdown"]("<answer>1+2</answer>", {"target": 3}).info


@pytest.mark.parametrize("text", ["(" * 100 + "1" + ")" * 100, "1+" * 200 + "1", "1 + (2", "abs(1)", "1 2"])
def test_countdown_parser_refuses(text):
    with pytest.raises(EquationError):
        evaluate(text)

"""math_equal: table-driven, per category, equal and not-equal cases written with the same care."""
from __future__ import annotations

import pytest

from rewards.math_equal import math_equal

# (pred, gold)
EQUAL = {
    "integer": [("57", "57"), ("57.0", "57"), ("057", "57"), ("-0", "0"), ("- 5", "-5"), ("1,000", "1000"),
                (r"11,\! 111,\! 111,\! 100", "11111111100"), ("10{,}080", "10080"), ("x = 18", "18")],
    "decimal": [(".35625", "0.35625"), ("0.50", "0.5"), ("1.8", r"1\frac{4}{5}"), ("2^{-1}", "0.5")],
    "fraction": [("0.5", r"\frac{1}{2}"), ("1/2", r"\frac12"), (r"\dfrac{3}{4}", r"\frac34"),
                 (r"\tfrac{2}{4}", "1/2"), (r"\frac{-3}{4}", r"-\frac{3}{4}"), (r"\frac{3}{-4}", r"-\frac34"),
                 (r"0.\overline{3}", r"\frac13")],
    "mixed": [(r"137\frac{1}{2}", "137.5"), (r"3\frac{1}{2}", r"\frac{7}{2}")],
    "percent": [(r"50\%", "0.5"), (r"50\%", "50"), ("12.5%", r"\frac18")],
    "degrees": [("30", r"30^\circ"), (r"30^{\circ}", "30"), ("30 degrees", r"30^\circ"), ("45°", "45")],
    "radical_pi": [(r"\sqrt{20}", r"2\sqrt{5}"), (r"\frac{1}{\sqrt3}", r"\frac{\sqrt{3}}{3}"),
                   (r"\pi \cdot 8", r"8\pi"), (r"\sqrt{5+2\sqrt6}", r"\sqrt2+\sqrt3"), ("2^{1/3}", r"\sqrt[3]{2}"),
                   ("π", r"\pi")],
    "scientific": [(r"1.5 \times 10^{3}", "1500"), ("6.02e23", r"6.02 \times 10^{23}"),
                   (r"3 \cdot 10^{-2}", "0.03")],
    "units_text": [(r"\frac{7}{3}\text{ m}^2", r"\frac73"), (r"\textbf{(D)}\ 12", "D"), (r"5 \text{ cm}", "5"),
                   (r"864 \mbox{ inches}^2", "864"), (r"\$32,\!348", "32348"), ("18 dollars", r"\$18"),
                   (r"\text{(C)}", "C"), ("(C)", r"\textbf{(C)}"), ("Even", r"\text{even}"), ("five", "5")],
    "complex": [("9i+6", "6+9i"), ("1 - 12 i", "1-12i"), (r"\sqrt{-1}", "i")],
    "expression": [(r"\cos^{-1}(0)", r"\frac{\pi}{2}"), ("(x+1)^2", "x^2+2x+1"), ("-q + p", "p - q"),
                   ("2(k+1)", "2k+2"), (r"\frac{\cos x}{\sin x}", r"\cot x"),
                   (r"\frac{x^9-1}{x-1}", "x^8+x^7+x^6+x^5+x^4+x^3+x^2+x+1"), (r"\log_2 8", "3"),
                   (r"3\ln 2", r"\ln 8")],
    "tuple": [(r"(3, \pi/2)", r"\left( 3, \frac{\pi}{2} \right)"),
              ("(1.5, -13)", r"\left( \frac{3}{2}, -13 \right)")],
    "interval": [("(3, 4]", "(3,4]"), ("x > 5", r"(5,\infty)"), (r"-2 \le x \le 7", r"x \in [-2,7]"),
                 (r"(3,\infty) \cup (-\infty,2)", r"(-\infty, 2) \cup (3, \infty)"),
                 (r"\mathbb{R}", r"(-\infty,\infty)")],
    "set_list": [("-2, 1", "1,-2"), ("7, 5, 3", "3, 5, 7"), (r"\{2, 1\}", r"\{1,2\}"), (r"\{1,2,2\}", r"\{1,2\}"),
                 (r"1-\sqrt{19}, 1+\sqrt{19}", r"1 \pm \sqrt{19}"),
                 (r"-2, 1+\sqrt5, 1-\sqrt5", r"\{1\pm\sqrt{5},-2\}"), (r"\{\}", r"\emptyset")],
    "matrix": [(r"\begin{bmatrix}-1&0\\0&-1\end{bmatrix}", r"\begin{pmatrix} -1 & 0 \\ 0 & -1 \end{pmatrix}"),
               ("(-7,16,5)", r"\begin{pmatrix} -7 \\ 16 \\ 5 \end{pmatrix}"),
               (r"\frac{1}{49}\begin{pmatrix} 16 \\ 48 \end{pmatrix}",
                r"\begin{pmatrix} 16/49 \\ 48/49 \end{pmatrix}")],
    "equation": [("y = 3 + 2x", "y = 2x + 3"), ("-5x + 7y - 11z - 4 = 0", "5x - 7y + 11z + 4 = 0"), ("5", "x=5"),
                 ("y + 2x = 0", "y = -2x")],
    "base": [("2516", "2516_8"), ("4210_5", "4210_{5}")],
    "issue17": [("x >= 5", r"x \geq 5"), ("-x > -1", "x < 1"), ("2x > 6", "x > 3"), ("x != 3", r"x \neq 3"),
                ("x = 5+5+1 = 11", "x = 11"), (r"\frac{70}{9} \approx 7.78", "7.78"), ("(p,q)=(3,2)", "(3,2)"),
                ("2 = x", "2"), ("a = 2, b = 3", "(2, 3)"), (r"x < 1 \text{ or } x > 3", r"(-\infty,1)\cup(3,\infty)"),
                ("1000,99", "1000.99"), ("1 000 000", "1000000"), ("2 million", "2000000"), ("twenty-five", "25"),
                ("(B) 12", "12"), ("C. x = 42", "C"), ("1 3/4", r"\frac74"), (r"-1\frac{3}{4}", r"-\frac74"),
                ("33.5 percent", "0.335"), ("(-infinity, 3)", r"(-\infty, 3)"), ("3+4j", "3+4i"), ("7 km/h", "7"),
                (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\left[\begin{array}{cc}1 & 2\\3 & 4\end{array}\right]"),
                ("{1, 2}", r"\{2, 1\}"), ("9" * 5000, "9" * 5000), (r"\\frac{1}{2}", "0.5")],
}
NOT_EQUAL = {
    "integer": [("56", "57"), ("5.7", "57"), ("10^{3}+1", "1,000"), ("x = 19", "18"), ("58", "57"), ("-57", "57"),
                ("570", "57"), ("1,001", "1000"), ("1267650600228229401496703205377", "2^{100}")],
    "decimal": [("0.3", "0.35"), (".35", "0.035"), ("0.333", r"\frac13"), ("0.67", r"\frac23"), ("2.0001", "2"),
                ("1.4142135", r"\sqrt2")],
    "fraction": [("2/3", r"\frac{3}{2}"), (r"\frac{1}{3}", r"0.\overline{3}3"), (r"\frac{2}{1}", r"\frac12"),
                 (r"\frac{-3}{-4}", r"-\frac34"), (r"\frac{4}{5}", r"1\frac{4}{5}")],
    "mixed": [(r"3 \cdot \frac{1}{2}", r"\frac{7}{2}")],
    "percent": [(r"5\%", "0.5"), (r"0.5\%", "50")],
    "degrees": [("150 degrees", r"30^\circ"), ("31", r"30^\circ"), (r"60^\circ", "30")],
    "radical_pi": [(r"\sqrt{5}", r"\sqrt2+\sqrt3"), (r"5\sqrt{2}", r"2\sqrt{5}"), ("3.14", r"\pi"), ("8", r"8\pi"),
                   (r"\sqrt{2}", r"\sqrt[3]{2}")],
    "scientific": [(r"1.5 \times 10^{2}", "1500")],
    "units_text": [("(C) 12", "(D)"), ("Evelyn", r"\text{Navin}"), ("56 dollars", "57"), ("6", r"5 \text{ cm}"),
                   ("D", r"\text{(C)}"), ("odd", r"\text{even}"), ("seat", "east"), ("six", "5")],
    "complex": [("6", "6+9i"), ("-i", "i"), ("6-9i", "6+9i"), ("9+6i", "6+9i")],
    "expression": [(r"\cos^{-1}(1)", r"\frac{\pi}{2}"), ("x^2+1", "(x+1)^2"), ("q - p", "p - q"), ("3r^2", "3R^2"),
                   (r"\tan x", r"\cot x"), ("8n^2 + 4n", "8n^2 + 4n + 1")],
    "tuple": [("(1,-2)", "(1,2)"), ("1, 2", "(1,2)"), ("(2,1)", "(1,2)"), ("(1,2,3)", "(1,2)"), ("[1,2]", "(1,2)")],
    "interval": [("[3,4]", "(3,4]"), (r"x \ge 5", r"(5,\infty)"),
                 (r"(-\infty, 2] \cup [3, \infty)", r"(-\infty,2)\cup(3,\infty)"),
                 ("(2,102)", r"(2,12) \cup (12,102)")],
    "set_list": [("3, 7", "3, 5, 7"), ("3, 5, 7, 10", "3, 5, 7"), (r"1 + \sqrt{19}", r"1 \pm \sqrt{19}"),
                 (r"\{1,3\}", r"\{1,2\}"), ("3, 4", "3"), ("3 or 4", "3")],
    "matrix": [(r"\begin{pmatrix} 1 & 2 \\ 3 & 5 \end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"),
               (r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}"),
               (r"\begin{pmatrix} -2 & -14 \end{pmatrix}", r"\begin{pmatrix} -2 \\ -14 \end{pmatrix}")],
    "equation": [("2x - y = 3", "y = 2x + 3"), ("x = 5", "x = -5"), ("y = 2x - 3", "y = 2x + 3"), ("x = 6", "x = 5"),
                 ("y = 5", "x = 5")],
    "base": [("1358", "2516_8"), ("2515_8", "2516_8"), ("2516_9", "2516_8")],
    "issue17": [("x > 5", r"x \geq 5"), ("-x < -1", "x < 1"), ("2x > 3", "x > 3"), ("x = 3", r"x \neq 3"),
                ("x = 5+5+1 = 12", "x = 11"), (r"\frac{70}{9} \approx 7.87", "7.78"), ("(p,q)=(2,3)", "(3,2)"),
                ("3 = x", "2"), ("a = 3, b = 2", "(2, 3)"), (r"x < 1 \text{ or } x > 2", r"(-\infty,1)\cup(3,\infty)"),
                ("1000,99", "100099"), ("123 4567", "1234567"), ("2 billion", "2000000"), ("twenty-six", "25"),
                ("(B) 13", "12"), ("C. x = 42", "D"), ("1 1/4", r"\frac74"), (r"-1\frac{3}{4}", r"-\frac14"),
                ("33.5 percent", "33.5 \\cdot 2"), ("(-infinity, 3]", r"(-\infty, 3)"), ("3-4j", "3+4i"),
                ("17 km/h", "7"),
                (r"\begin{pmatrix}1&3\\2&4\end{pmatrix}", r"\left[\begin{array}{cc}1 & 2\\3 & 4\end{array}\right]"),
                ("{1, 2}", r"\{2, 3\}"), ("9" * 5000, "9" * 4999 + "8"), ("2ab", "2"), ("3 thousand", "3")],
}


def _flatten(table: dict) -> list:
    return [pytest.param(p, g, id=f"{cat}:{p}|{g}") for cat, pairs in table.items() for p, g in pairs]


@pytest.mark.parametrize("pred,gold", _flatten(EQUAL))
def test_equal(pred, gold):
    assert math_equal(pred, gold) is True


@pytest.mark.parametrize("pred,gold", _flatten(NOT_EQUAL))
def test_not_equal(pred, gold):
    assert math_equal(pred, gold) is False


def test_tables_are_balanced():
    assert set(EQUAL) == set(NOT_EQUAL)
    n_eq, n_neq = sum(map(len, EQUAL.values())), sum(map(len, NOT_EQUAL.values()))
    assert abs(n_eq - n_neq) <= 0.25 * max(n_eq, n_neq)


@pytest.mark.parametrize("bad", [None, "", "   ", "\\boxed{}", "{", "}", "\\frac{", "((", "x" * 5000])
def test_degenerate_inputs_are_not_equal(bad):
    assert math_equal(bad, "1") is False
    assert math_equal("1", bad) is False


def test_reflexive_on_math500_golds():
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "r1zero" / "data" / "math" / "test500.jsonl"
    if not path.exists():
        pytest.skip("MATH-500 copy not present")
    golds = [json.loads(line)["answer"] for line in path.open(encoding="utf-8")]
    assert all(math_equal(g, g) for g in golds)

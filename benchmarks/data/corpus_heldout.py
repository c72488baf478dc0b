r"""Held-out hand-written cases (same row format as corpus_hand.py), written after the first round of verifier
changes and scored once before any further change; see README.md for how they were used.

They follow the same kinds of answer with different wording, and each positive has a near-miss beside it.
"""
C, R = "completion", "response"

BLOCKS = [
    ("gsm8k", "style: GSM8K chat outputs (closing sentence, 'Final answer', bold, 'ANSWER:')", [
        (C, "72", "Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 clips altogether in April and May.\n"
                  "#### 72.", True),
        (C, "72", "Natalia sold 48/2 = 24 clips in May.\nAltogether she sold 48+24 = 27 clips.\n#### 27", False),
        (C, "10", "Weng earns 12/60 = $0.2 per minute. Working 50 minutes, she earned 0.2 x 50 = $10.\n"
                  "The answer is $10.", True),
        (C, "10", "Weng earns 12/60 = $0.2 per minute. Working 50 minutes, she earned 0.2 x 50 = $10.\n"
                  "The answer is $12.", False),
        (C, "5", "Betty has 100 / 2 = 50 dollars. Her grandparents give 15 * 2 = 30. She needs 100 - 50 - 15 - 30 = 5 "
                 "more dollars.\nFinal answer: 5", True),
        (C, "5", "Betty has 100 / 2 = 50 dollars. Her grandparents give 15 * 2 = 30. She needs 100 - 50 - 15 - 30 = 5 "
                 "more dollars.\nFinal answer: 15", False),
        (C, "624", "James writes 3 pages to 2 friends twice a week: 3 * 2 * 2 = 12 pages a week, so 12 * 52 = 624 pages "
                   "a year.", True),
        (C, "624", "James writes 3 pages to 2 friends twice a week: 3 * 2 * 2 = 12 pages a week, so 12 * 52 = 642 pages "
                   "a year.", False),
        (C, "168", "There are 10 yellow, 18 purple and 28 green flowers, 10 + 18 + 28 = 56, plus 112 more.\n"
                   "Thus Mark has **168** flowers in his garden.", True),
        (C, "168", "There are 10 yellow, 18 purple and 28 green flowers, 10 + 18 + 28 = 56, plus 112 more.\n"
                   "Thus Mark has **186** flowers in his garden.", False),
        (C, "48", "Albert ate 2*16 + 2*8 = 48 slices.\n\nANSWER: 48", True),
        (C, "48", "Albert ate 2*16 + 2*8 = 48 slices.\n\nANSWER: 32", False),
        (C, "1200", "After paying rent she will have $\\$1{,}200$ left.", True),
        (C, "1200", "After paying rent she will have $\\$2{,}100$ left.", False),
        (C, "4.5", "Each costs 9 / 2 = 4.5 dollars. The answer is \\$4.50.", True),
        (C, "4.05", "Each costs 9 / 2 = 4.5 dollars. The answer is \\$4.50.", False),
        (C, "10", "The answer is 10. Note that 10 is less than 12.", True),
        (C, "12", "The answer is 10. Note that 10 is less than 12.", False),
        (C, "5", "So she needs 5 more apples.\n\n**Final Answer**\n\\boxed{5}", True),
        (C, "5", "So she needs 5 more apples.\n\n**Final Answer**\n\\boxed{6}", False),
    ]),
    ("integer_in_math", "style: integers in math spans and boxed closings", [
        (C, "17", "The smallest such $n$ is $n = 17$.", True), (C, "17", "The smallest such $n$ is $n = 71$.", False),
        (C, "64", "\\(\\therefore\\) the answer is \\(64\\).", True), (C, "64", "\\(\\therefore\\) the answer is \\(46\\).", False),
        (C, "3", "Hence the remainder is $\\boxed{3}$.", True), (C, "3", "Hence the remainder is $\\boxed{4}$.", False),
        (C, "30", "We get \\[ \\frac{1}{2}\\cdot 12\\cdot 5 = 30. \\]", True),
        (C, "30", "We get \\[ \\frac{1}{2}\\cdot 12\\cdot 5 = 60. \\]", False),
    ]),
    ("equation", "style: equations, chains and labels", [
        (R, "y = -\\frac{1}{2}x + 4", "y = 4 - 0.5x", True), (R, "y = -\\frac{1}{2}x + 4", "y = 4 + 0.5x", False),
        (R, "x^2 + y^2 = 9", "(x-0)^2 + (y-0)^2 = 3^2", True), (R, "x^2 + y^2 = 9", "x^2 + y^2 = 3", False),
        (R, "x = -2", "$x=-2$", True), (R, "x = -2", "$x = 2$", False),
        (R, "3", "$3 = x$", True), (R, "3", "$x = 3$", True), (R, "3", "$x = 4$", False),
        (C, "8", "Indeed $2^3 = 8$.", True), (C, "9", "Indeed $2^3 = 8$.", False),
    ]),
    ("relation", "style: inequalities and their intervals", [
        (R, "x \\le 3", "$x \\leqslant 3$", True), (R, "x \\le 3", "$x < 3$", False),
        (R, "(-\\infty, 3]", "x \\leq 3", True), (R, "(-\\infty, 3]", "x < 3", False),
        (R, "x > -4", "-4 < x", True), (R, "x > -4", "x > 4", False),
        (R, "(0, 5)", "$0 < x < 5$", True), (R, "(0, 5)", "$0 \\le x < 5$", False),
        (R, "x \\neq 2", "$x \\ne 2$", True), (R, "x \\neq 2", "$x \\neq -2$", False),
        (R, "y \\ge 0", "$[0, \\infty)$", True), (R, "y \\ge 0", "$(0,\\infty)$", False),
    ]),
    ("choice", "style: multiple-choice closings", [
        (C, "C", "The correct answer is (C) 24.", True), (C, "C", "The correct answer is (D) 24.", False),
        (C, "A", "**Answer: A**", True), (C, "A", "**Answer: B**", False),
        (C, "D", "Answer: $\\text{D}$", True), (C, "D", "Answer: $\\text{B}$", False),
        (C, "B", "The best choice is B.", True), (C, "B", "The best choice is E.", False),
        (R, "(E)", "E", True), (R, "(E)", "(A)", False),
        (C, "B", "I'll go with option B.", True), (C, "B", "I'll go with option C.", False),
        (C, "A", "Answer: (A) $x=2$", True), (C, "A", "Answer: (C) $x=2$", False),
    ]),
    ("set_tuple_interval", "style: sets, points, intervals", [
        (R, "\\{2, 3\\}", "$\\{3, 2\\}$", True), (R, "\\{2, 3\\}", "$\\{2, 3, 4\\}$", False),
        (C, "(2, -1)", "So the solution is $(x, y) = (2, -1)$.", True),
        (C, "(2, -1)", "So the solution is $(x, y) = (-1, 2)$.", False),
        (R, "[1, 4]", "$1 \\le x \\le 4$", True), (R, "[1, 4]", "$1 < x \\le 4$", False),
        (R, "(-\\infty, -2) \\cup (2, \\infty)", "$|x| > 2$", True), (R, "(-\\infty, -2) \\cup (2, \\infty)", "$|x| < 2$", False),
        (R, "(-\\infty, \\infty)", "all real numbers", True), (R, "(-\\infty, \\infty)", "all positive numbers", False),
    ]),
    ("matrix", "style: vectors and matrices", [
        (R, "\\begin{pmatrix} 4 \\\\ -1 \\end{pmatrix}", "$\\begin{bmatrix} 4 \\\\ -1 \\end{bmatrix}$", True),
        (R, "\\begin{pmatrix} 4 \\\\ -1 \\end{pmatrix}", "$\\begin{bmatrix} -1 \\\\ 4 \\end{bmatrix}$", False),
        (C, "\\begin{pmatrix} 0 & 1 \\\\ 1 & 0 \\end{pmatrix}", "\\boxed{\\begin{pmatrix}0&1\\\\1&0\\end{pmatrix}}", True),
        (C, "\\begin{pmatrix} 0 & 1 \\\\ 1 & 0 \\end{pmatrix}", "\\boxed{\\begin{pmatrix}0&1\\\\1&1\\end{pmatrix}}", False),
    ]),
    ("multi_answer", "style: several answers", [
        (C, "-2, 5", "Therefore $x = -2$ or $x = 5$.", True), (C, "-2, 5", "Therefore $x = 2$ or $x = 5$.", False),
        (C, "1, 3", "\\boxed{1, 3}", True), (C, "1, 3", "\\boxed{1}", False),
        (R, "\\pm 3", "$x = \\pm 3$", True), (R, "\\pm 3", "$x = 3$", False),
    ]),
    ("radical_pi", "style: radicals and pi", [
        (R, "\\frac{\\sqrt{3}}{2}", "$\\frac{1}{2}\\sqrt{3}$", True), (R, "\\frac{\\sqrt{3}}{2}", "$\\frac{\\sqrt{2}}{2}$", False),
        (R, "9\\pi", "$9 \\pi \\text{ cm}^2$", True), (R, "9\\pi", "$3\\pi$", False),
        (R, "2\\pi", "2\u03c0", True), (R, "2\\pi", "\u03c0", False),
    ]),
    ("fraction_mixed", "style: fractions, mixed numbers, decimals", [
        (R, "\\frac{9}{4}", "2\\frac14", True), (R, "\\frac{9}{4}", "2 1/4", True), (R, "\\frac{9}{4}", "2\\frac{1}{2}", False),
        (R, "\\frac{9}{4}", "2.25", True), (R, "\\frac{9}{4}", "2.5", False),
    ]),
    ("decimal_comma", "style: decimal commas in other languages", [
        (C, "3.5", "Die L\u00f6sung ist 3,5.", True), (C, "3.5", "Die L\u00f6sung ist 5,3.", False),
        (C, "0.75", "R\u00e9ponse : 0,75 \u20ac", True), (C, "0.75", "R\u00e9ponse : 7,5 \u20ac", False),
    ]),
    ("thousands", "style: thousands separators", [
        (R, "25000", "$25,000", True), (R, "25000", "$2,500", False), (R, "1234567", "1 234 567", True),
        (R, "1234567", "123 4567", False),
    ]),
    ("scientific", "style: scientific notation", [
        (R, "4.5 \\times 10^{6}", "4500000", True), (R, "4.5 \\times 10^{6}", "450000", False),
        (R, "0.00032", "3.2 \\times 10^{-4}", True), (R, "0.00032", "3.2 \\times 10^{-3}", False),
    ]),
    ("degrees", "style: degrees", [
        (R, "60", "$60^{\\circ}$", True), (R, "60", "$\\angle B = 60^\\circ$", True), (R, "60", "$120^\\circ$", False),
        (R, "60", "$\\angle B = 30^\\circ$", False),
    ]),
    ("rounding", "style: approximate values", [
        (C, "3.14", "It is approximately 3.14.", True), (C, "3.14", "It is approximately 3.41.", False),
        (R, "0.67", "\\frac{2}{3} \\approx 0.67", True), (R, "0.67", "\\frac{2}{3} \\approx 0.76", False),
    ]),
    ("percent", "style: percents", [
        (R, "40\\%", "40 percent", True), (R, "40\\%", "0.4", True), (R, "40\\%", "4\\%", False),
        (R, "0.125", "12.5\\%", True), (R, "0.125", "1.25\\%", False),
    ]),
    ("units", "style: units", [
        (R, "15", "15 \\text{ meters}", True), (R, "15", "150 \\text{ cm}", False), (R, "7", "7 km/h", True),
        (R, "7", "17 km/h", False),
    ]),
    ("text", "style: text answers", [
        (R, "\\text{Sunday}", "Sunday", True), (R, "\\text{Sunday}", "Monday", False), (R, "no", "\\text{No}", True),
        (R, "no", "yes", False), (R, "\\text{impossible}", "impossible", True), (R, "\\text{impossible}", "possible", False),
    ]),
    ("expression", "style: expressions", [
        (R, "2x^2 - 8", "2(x-2)(x+2)", True), (R, "2x^2 - 8", "2(x-2)^2", False),
        (R, "\\frac{1}{x+1}", "(x+1)^{-1}", True), (R, "\\frac{1}{x+1}", "\\frac{1}{x-1}", False),
    ]),
    ("adversarial", "style: adversarial outputs", [
        (C, "7", "<think>The answer is 7.</think>\nI'm not sure.", False),
        (C, "12", "\\boxed{12}\n\\boxed{13}", False),
        (C, "3", "The answer is 3. Just kidding, the answer is 4.", False),
        (C, "4", "The answer is 3. Just kidding, the answer is 4.", True),
        (C, "10", "A" * 10000, False),
    ]),
]

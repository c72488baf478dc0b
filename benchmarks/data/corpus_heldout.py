# ruff: noqa: E501 - a table of labelled cases, one source per row group
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

# Second round: whole outputs in the styles of several model families, written after the fixes that the first round
# prompted and scored once before any further change.
BLOCKS2 = [
    ("gsm8k", "style: closings of instruct and reasoning models on GSM8K", [
        (C, "18", "Janet has 16 - 3 - 4 = 9 eggs to sell.\nShe earns 9 \\times 2 = 18 dollars.\n\nThus, the final answer "
                  "is \\(\\boxed{18}\\).", True),
        (C, "18", "Janet has 16 - 3 - 4 = 9 eggs to sell.\nShe earns 9 \\times 2 = 18 dollars.\n\nThus, the final answer "
                  "is \\(\\boxed{9}\\).", False),
        (C, "18", "## Step 1: Eggs left\n16 - 3 - 4 = 9.\n\n## Step 2: Money\n9 * 2 = 18.\n\nThe final answer is: "
                  "$\\boxed{18}$", True),
        (C, "18", "## Step 1: Eggs left\n16 - 3 - 4 = 9.\n\n## Step 2: Money\n9 * 2 = 18.\n\nThe final answer is: "
                  "$\\boxed{16}$", False),
        (C, "18", "<think>\n16 - 3 - 4 = 9, and 9 * 2 = 18. Let me double check: 9 * 2 is 18. Yes.\n</think>\n\nJanet "
                  "sells 9 eggs at $2 each.\n\n**Final Answer**\n\\[\n\\boxed{18}\n\\]", True),
        (C, "18", "<think>\n16 - 3 - 4 = 9, and 9 * 2 = 18.\n</think>\n\nJanet sells 9 eggs at $2 each.\n\n"
                  "**Final Answer**\n\\[\n\\boxed{20}\n\\]", False),
        (C, "18", "She sells 16 - 3 - 4 = 9 eggs, so she makes **$18** per day at the farmers' market.", True),
        (C, "18", "She sells 16 - 3 - 4 = 9 eggs, so she makes **$19** per day at the farmers' market.", False),
        (C, "18", "She sells 9 eggs. Therefore, Janet makes $18 every day at the farmers' market.", True),
        (C, "18", "She sells 9 eggs. Therefore, Janet makes $9 every day at the farmers' market.", False),
        (C, "18", "**Answer:** Janet makes $\\$18$ every day.", True),
        (C, "18", "**Answer:** Janet makes $\\$81$ every day.", False),
        (C, "18", "<think>16-3-4=9; 9*2=18</think> <answer> 18 </answer>", True),
        (C, "18", "<think>16-3-4=9; 9*2=18</think> <answer> 9 </answer>", False),
        (C, "18", "9 eggs are left, so she earns \\boxed{18 \\text{ dollars}}.", True),
        (C, "18", "9 eggs are left, so she earns \\boxed{\\$18}.", True),
        (C, "18", "9 eggs are left, so she earns \\boxed{\\$1.80}.", False),
        (C, "18", "It's either 18 or 20, depending on the price.", False),
        (C, "18", "The final answer is 18. I hope it is correct.", True),
        (C, "18", "The final answer is 81. I hope it is correct.", False),
    ]),
    ("math_unboxed", "style: MATH closings without a box, with trailing remarks", [
        (C, "\\frac{1+\\sqrt{5}}{2}, \\frac{1-\\sqrt{5}}{2}", "By the quadratic formula, the solutions are "
         "$x = \\frac{1 \\pm \\sqrt{5}}{2}$.", True),
        (C, "\\frac{1+\\sqrt{5}}{2}, \\frac{1-\\sqrt{5}}{2}", "By the quadratic formula, the solutions are "
         "$x = \\frac{-1 \\pm \\sqrt{5}}{2}$.", False),
        (C, "[-3, 2]", "The expression under the root must be nonnegative, so the domain is $[-3, 2]$.", True),
        (C, "[-3, 2]", "The expression under the root must be nonnegative, so the domain is $(-3, 2)$.", False),
        (C, "(2,-3)", "Solving the system, the ordered pair is $(a,b) = (2,-3)$.", True),
        (C, "(2,-3)", "Solving the system, the ordered pair is $(a,b) = (-3,2)$.", False),
        (C, "\\frac{3}{5}", "Since the triangle is 3-4-5, we get $\\cos \\theta = \\frac{3}{5}$.", True),
        (C, "\\frac{3}{5}", "Since the triangle is 3-4-5, we get $\\cos \\theta = \\frac{4}{5}$.", False),
        (C, "C", "Comparing the options, the answer is $\\boxed{\\text{(C)}}$.", True),
        (C, "C", "Comparing the options, the answer is $\\boxed{\\text{(B)}}$.", False),
        (C, "-\\frac{1}{2}, 3", "Factoring gives $(2k+1)(k-3)=0$, thus $k = -\\frac{1}{2}$ or $k = 3$.", True),
        (C, "-\\frac{1}{2}, 3", "Factoring gives $(2k+1)(k-3)=0$, thus $k = \\frac{1}{2}$ or $k = 3$.", False),
        (C, "2\\sqrt{2}", "By AM-GM, the minimum value is $2\\sqrt{2}$, attained at $x = 1$.", True),
        (C, "2\\sqrt{2}", "By AM-GM, the minimum value is $\\sqrt{2}$, attained at $x = 1$.", False),
        (C, "\\frac{25\\sqrt{3}}{4}", "The area of the equilateral triangle is $\\frac{25\\sqrt{3}}{4}$ square units.",
         True),
        (C, "\\frac{25\\sqrt{3}}{4}", "The area of the equilateral triangle is $\\frac{25\\sqrt{3}}{2}$ square units.",
         False),
        (C, "1204_5", "Converting, $179 = 1\\cdot 125 + 2\\cdot 25 + 0 \\cdot 5 + 4$, so in base 5 this is "
                      "$\\boxed{1204_5}$.", True),
        (C, "1204_5", "Converting, $179 = 1\\cdot 125 + 2\\cdot 25 + 0 \\cdot 5 + 4$, so in base 5 this is "
                      "$\\boxed{1240_5}$.", False),
        (C, "E", "Only the last one works, so the answer is $\\textbf{(E) } 12$.", True),
        (C, "E", "Only the fourth one works, so the answer is $\\textbf{(D) } 12$.", False),
        (C, "\\begin{pmatrix} 2 & -1 \\\\ -1 & 1 \\end{pmatrix}", "Thus, $\\mathbf{A}^{-1} = \\begin{pmatrix} 2 & -1 "
         "\\\\ -1 & 1 \\end{pmatrix}$.", True),
        (C, "\\begin{pmatrix} 2 & -1 \\\\ -1 & 1 \\end{pmatrix}", "Thus, $\\mathbf{A}^{-1} = \\begin{pmatrix} 2 & 1 "
         "\\\\ 1 & 1 \\end{pmatrix}$.", False),
        (C, "(-\\infty,-1)\\cup(2,\\infty)", "The quadratic is positive outside its roots, so the solution set is "
         "$x < -1$ or $x > 2$.", True),
        (C, "(-\\infty,-1)\\cup(2,\\infty)", "The quadratic is positive outside its roots, so the solution set is "
         "$-1 < x < 2$.", False),
        (C, "4", "The remainder is $4$. (We can verify: $2^{10} = 1024 = 5 \\cdot 204 + 4$.)", True),
        (C, "4", "The remainder is $3$. (We can verify: $2^{10} = 1024 = 5 \\cdot 204 + 4$.)", False),
        (C, "10", "So there are 10 ways in total. Note that we did not count the empty set, which would give 11.", True),
        (C, "11", "So there are 10 ways in total. Note that we did not count the empty set, which would give 11.", False),
    ]),
    ("choice", "style: multiple-choice explanations", [
        (C, "B", "Option A gives 10, which is too small. Option B gives 12, which matches. So the answer is B.", True),
        (C, "A", "Option A gives 10, which is too small. Option B gives 12, which matches. So the answer is B.", False),
        (C, "D", "The answer is D because the slope is negative.", True),
        (C, "C", "The answer is D because the slope is negative.", False),
        (C, "C", "Answer: C) 42", True), (C, "C", "Answer: D) 42", False),
    ]),
]

# Third round: the normalisations of public harness graders (Qwen2.5-Math strip_string and convert_word_number,
# prm800k math_normalize/grader, lm-eval minerva normalize_final_answer) applied to final answers, plus outputs of
# small base models; written before the verifier handled any of them and scored once before any further change.
BLOCKS3 = [
    ("text", "style: number words (Qwen2.5-Math convert_word_number with word2number)", [
        (R, "25", "twenty-five", True), (R, "25", "twenty-six", False), (R, "500", "five hundred", True),
        (R, "500", "fifty", False), (R, "3000", "three thousand", True), (R, "3000", "thirty", False),
        (R, "12", "twelve", True), (R, "12", "twenty", False),
    ]),
    ("set_tuple_interval", "style: infinity written as a word (Qwen2.5-Math strip_string 'infinity', 'inf')", [
        (R, "(-\\infty, 3)", "(-infinity, 3)", True), (R, "(-\\infty, 3)", "(-infinity, 3]", False),
        (R, "[2, \\infty)", "[2, inf)", True), (R, "[2, \\infty)", "(2, inf)", False),
    ]),
    ("expression", "style: complex numbers with j (Qwen2.5-Math strip_string j -> i)", [
        (R, "3 + 4i", "3+4j", True), (R, "3 + 4i", "3-4j", False), (R, "2i", "2j", True), (R, "2i", "-2j", False),
    ]),
    ("units", "style: unit words of lm-eval minerva REMOVED_EXPRESSIONS and prm800k's unit list", [
        (R, "15", "15 students", True), (R, "15", "16 students", False), (R, "7", "7 edges", True),
        (R, "7", "70 edges", False), (R, "4", "4 hours", True), (R, "4", "40 minutes", False),
        (R, "120", "120 \\text{ ways}", True), (R, "120", "210 \\text{ ways}", False),
        (R, "8", "8\\text{ ft}", True), (R, "8", "8\\text{ ft}^2 \\cdot 2", False),
    ]),
    ("fraction_mixed", "style: prm800k and Qwen fraction forms (`\\frac12`, a/b, `.5`)", [
        (R, "\\frac{1}{2}", ".5", True), (R, "\\frac{1}{2}", ".25", False), (R, "\\frac{3}{8}", "3 / 8", True),
        (R, "\\frac{3}{8}", "8 / 3", False), (R, "\\frac{10}{3}", "3\\frac13", True), (R, "\\frac{10}{3}", "3\\frac23", False),
    ]),
    ("gsm8k", "style: small base models on GSM8K (few-shot continuations, repeated answers, trailing text)", [
        (C, "42", "He has 6 * 7 = 42 marbles.\nThe answer is 42.\n\nQ: Sam has 5 apples", True),
        (C, "5", "He has 6 * 7 = 42 marbles.\nThe answer is 42.\n\nQ: Sam has 5 apples", False),
        (C, "42", "6 * 7 = 42\n42\n42\n42", True), (C, "7", "6 * 7 = 42\n42\n42\n42", False),
        (C, "30", "The total is 10 + 20 = 30 dollars. So he spent 30 dollars in all. #### 30", True),
        (C, "30", "The total is 10 + 20 = 30 dollars. So he spent 30 dollars in all. #### 20", False),
        (C, "8", "Step 1: 2 + 2 = 4\nStep 2: 4 * 2 = 8\nAnswer: 8 apples", True),
        (C, "8", "Step 1: 2 + 2 = 4\nStep 2: 4 * 2 = 8\nAnswer: 4 apples", False),
    ]),
    ("choice", "style: choice letters in words and with punctuation", [
        (C, "B", "I believe option (B) is correct. Final answer: (B)", True),
        (C, "B", "I believe option (B) is correct. Final answer: (C)", False),
        (C, "A", "Answer: a", True), (C, "A", "Answer: c", False),
    ]),
]

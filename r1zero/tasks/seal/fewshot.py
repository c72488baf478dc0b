"""SEAL's few-shot self-edits: a plan, chosen from a fixed menu, for turning a puzzle's demonstrations into training
data and for the inner loop's settings (the puzzles: rules.py; the inner loop that runs the plan: inner.py).

A self-edit is four lines, the `seal_rules` template's format ("augment:" is prefilled):

    augment: demos, leave_one_out
    lr: 1e-3
    epochs: 4
    loss: output

    key      menu (MENU)                                      training data / setting
    augment  demos          each demonstration alone: "Input: a\\nOutput:" -> " b"
             leave_one_out  the other demonstrations in the prompt, then one as the query (test-time training's
                            in-context tasks, the form the adapted model is asked in)
             shuffle        leave_one_out again with the context demonstrations in reverse order
             reverse        each demonstration with both digit sequences reversed: the same rule for the
                            elementwise rules (add_one), a wrong one for the others (sort, first, ...)
    lr       1e-4 1e-3 3e-3 the LoRA learning rate (inner_lr)
    epochs   1 2 4 8        passes over the documents (inner_steps)
    loss     output | all   the loss on the output tokens only, or on every token of each document

A self-edit's plan is what each key's line names from the menu: augment, the menu's augmentations on its line (in
order, repeats dropped); lr, epochs and loss, the first menu value on theirs (a number may be written another way,
"0.001" for "1e-3"). Other words are ignored ("loss: output or all", a line copied from the menu, names output),
and a setting that no line names keeps the worked plan's value (FIXED_PLAN: a plan says what it changes). A
self-edit whose augment line names no augmentation (or that has none) is invalid (`parse_plan` returns None) and
its reward is 0. Why so lenient: SmolLM2-135M mixes the menu's lines ("augment: 1e-4, leave_one_out") and, sampled
at temperature 1, drops or invents keys; under a parser that voided any unknown word or missing key, none of 32
greedy plans and 1 of 12 sampled ones was valid, so ReST-EM had almost nothing to keep. Pure functions of text; no
imports beyond the standard library (the inner loop's workers import it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

AUGMENTATIONS = ("demos", "leave_one_out", "shuffle", "reverse")
MENU = {"augment": AUGMENTATIONS, "lr": ("1e-4", "1e-3", "3e-3"), "epochs": ("1", "2", "4", "8"),
        "loss": ("output", "all")}
# the fixed-setting baseline (`seal eval --baselines fixed`) and the template's worked example: test-time
# training's usual choice (in-context tasks from the demonstrations, output-only loss)
FIXED_PLAN = "augment: demos, leave_one_out\nlr: 1e-3\nepochs: 4\nloss: output"
LINE = re.compile(r"^\s*(augment|lr|epochs|loss)\s*:\s*(.*?)\s*$", re.IGNORECASE)
WORD = re.compile(r"\d+(?:\.\d+)?(?:e-?\d+)?|[a-z_]+")  # a number ("1e-3", "0.001", "4") or a word


@dataclass(frozen=True)
class Plan:
    augment: tuple[str, ...]
    lr: float
    epochs: int
    output_only: bool

    def describe(self) -> str:
        """The plan in the self-edit's own format (one name per setting, for logs and tables)."""
        return (f"augment: {', '.join(self.augment)}; lr: {self.lr:g}; epochs: {self.epochs}; "
                f"loss: {'output' if self.output_only else 'all'}")


def parse_plan(text: str) -> Plan | None:
    """The plan a self-edit names, or None when it names no augmentation (see the module doc). The first line of
    each key counts; lines that name no key are ignored."""
    found: dict[str, list[str]] = {}
    for line in text.replace("\r", "\n").split("\n"):
        m = LINE.match(line)
        if m and m.group(1).lower() not in found:
            found[m.group(1).lower()] = WORD.findall(m.group(2).lower())
    augment = tuple(dict.fromkeys(w for w in found.get("augment", []) if w in AUGMENTATIONS))
    if not augment:
        return None
    lr = next((x for x in (menu_number(w, "lr") for w in found.get("lr", [])) if x is not None), DEFAULT.lr)
    epochs = next((x for x in (menu_number(w, "epochs") for w in found.get("epochs", [])) if x is not None),
                  DEFAULT.epochs)
    loss = next((w == "output" for w in found.get("loss", []) if w in MENU["loss"]), DEFAULT.output_only)
    return Plan(augment, lr, int(epochs), loss)


def menu_number(value: str, key: str) -> float | None:
    """The menu's number that `value` writes ("0.001" is "1e-3"), or None when it is not on the menu."""
    try:
        x = float(value)
    except ValueError:
        return None
    return x if any(abs(x - float(v)) <= 1e-9 * max(1.0, abs(x)) for v in MENU[key]) else None


DEFAULT = Plan(("demos", "leave_one_out"), 1e-3, 4, True)  # FIXED_PLAN, parsed (tests check they agree)


def is_puzzle(questions) -> bool:
    """Whether a row's `questions` are a few-shot puzzle's query (it carries its demonstrations) rather than
    questions about a passage: the one test the reward, the eval and the inner loop share."""
    return (isinstance(questions, list) and bool(questions) and isinstance(questions[0], dict)
            and questions[0].get("demos") is not None)


def demos_text(demos: list[list[str]]) -> str:
    """The demonstrations as "Input: ...\nOutput: ..." paragraphs (a puzzle's `problem`, and the context of
    `context_prompt`)."""
    return "\n\n".join(f"Input: {a}\nOutput: {b}" for a, b in demos)


def reverse_line(seq: str) -> str:
    return " ".join(reversed(seq.split()))


def context_prompt(demos: list[list[str]], query: str) -> str:
    """Demonstrations, then the query: how the adapted model is asked (and the leave_one_out documents' form)."""
    return (demos_text(demos) + "\n\n" if demos else "") + f"Input: {query}\nOutput:"


def plan_docs(plan: Plan, demos: list[list[str]]) -> list[tuple[str, str] | str]:
    """The inner loop's documents for `plan`: (prompt, target) pairs, the loss on the target only; or whole strings
    (loss: all), which train on every token."""
    pairs: list[tuple[str, str]] = []
    for aug in plan.augment:
        if aug == "demos":
            pairs += [(f"Input: {a}\nOutput:", f" {b}") for a, b in demos]
        elif aug in ("leave_one_out", "shuffle"):
            for i, (a, b) in enumerate(demos):
                rest = demos[:i] + demos[i + 1:]
                pairs.append((context_prompt(rest if aug == "leave_one_out" else rest[::-1], a), f" {b}"))
        elif aug == "reverse":
            pairs += [(f"Input: {reverse_line(a)}\nOutput:", f" {reverse_line(b)}") for a, b in demos]
    return pairs if plan.output_only else [p + t for p, t in pairs]

"""Prompt templates, all in one place so that they can be read and diffed side by side.

Each template has two forms:
  - `raw`: the whole prompt text, for base models (`data.chat=false`), as R1-Zero was trained;
  - `user`: the user turn, for instruct models (`data.chat=true`), wrapped by the tokenizer's chat template.

`{problem}` is replaced literally (no `str.format`: problems and templates contain LaTeX braces).

The r1 template, raw form, ends with `Assistant: <think>`: the `<think>` tag is prefilled, so a base model starts
reasoning at once and the completion holds `... </think> <answer> ... </answer>`. `prefill("r1", chat=False)` returns
that `<think>`; a format reward prepends it to the completion before checking the tags. In chat form the instruction
goes into the user turn and nothing is prefilled (`prefill` returns ""): the assistant turn is left to the model,
which then writes its own `<think>`, and a chat model asked to use the tags is not cut off in the middle of its header.

`stop` holds stop strings that end a completion early; engines keep the stop string in the completion text, so
`</answer>` is still there for the format reward.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Template:
    raw: str  # the whole prompt for base models (data.chat=false)
    user: str  # the user turn for instruct models (data.chat=true)
    prefill: str = ""  # text at the end of `raw` that belongs to the completion's format (r1: "<think>")
    chat_prefill: str = ""  # the same for the chat form: the assistant turn starts with it
    stop: tuple[str, ...] = ()  # stop strings; the stop string stays in the completion


R1_INSTRUCTION = (
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)
BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
PLAIN_INSTRUCTION = "Answer with just the number."
SEAL_EXAMPLE = ("Lomi is a dog.\nLomi weighs 12 kilograms.\nLomi was born in 2015.\nLomi has 3 toys.\n"
                "Lomi sleeps 14 hours a day.")
SEAL_EXAMPLE_QA = ("Question: How much does Lomi weigh? Answer: 12 kilograms.\n"
                   "Question: In what year was Lomi born? Answer: 2015.\n"
                   "Question: How many toys does Lomi have? Answer: 3.\n"
                   "Question: How many hours a day does Lomi sleep? Answer: 14.")

RULES_MENU = ("A small model will be trained on these examples before it answers a new input. Choose its training "
              "plan, one line per setting:\n"
              "augment: one or more of demos, leave_one_out, shuffle, reverse\n"
              "lr: 1e-4, 1e-3 or 3e-3\n"
              "epochs: 1, 2, 4 or 8\n"
              "loss: output or all\n\n"
              "Example plan:\naugment: demos, leave_one_out\nlr: 1e-3\nepochs: 4\nloss: output")

# Worked examples shared by both forms of the `grm` template (see the comment there). Each critique first computes
# the sum, then quotes each response's last number against it, then maps right/wrong to 10/1: steps a 135M model
# can copy. With the earlier examples (one pair scored 2/9 by prose, one single) the judge stated the right sum 63%
# of the time but its critiques repeated that sum for every response and its verdicts were at chance.
GRM_EXAMPLES = (
    "Question: What is 2 + 3?\n\nResponse 1: 2 + 3 = 6\nResponse 1 ends with 6.\n\n"
    "Response 2: The answer is 5.\nResponse 2 ends with 5.\n\n"
    "Principles: A correct response ends with the sum. 2 + 3 = 5.\n"
    "Critique: Response 1 ends with 6. 6 is not 5: wrong. Response 2 ends with 5. 5 is 5: right.\n"
    "Scores: \\boxed{1, 10}\n\n"
    "Question: What is 14 + 7?\n\nResponse 1: 14 + 7 = 21\nResponse 1 ends with 21.\n\n"
    "Response 2: I think it is 18\nResponse 2 ends with 18.\n\n"
    "Principles: A correct response ends with the sum. 14 + 7 = 21.\n"
    "Critique: Response 1 ends with 21. 21 is 21: right. Response 2 ends with 18. 18 is not 21: wrong.\n"
    "Scores: \\boxed{10, 1}\n\n"
    "Question: What is 4 + 4?\n\nResponse 1: four\nResponse 1 ends with no number.\n\n"
    "Principles: A correct response ends with the sum. 4 + 4 = 8.\n"
    "Critique: Response 1 ends with no number: wrong.\n"
    "Scores: \\boxed{1}\n\n"
)

TEMPLATES: dict[str, Template] = {
    # DeepSeek-R1-Zero (DeepSeek-R1 paper, table 1), with <think> prefilled for base models.
    "r1": Template(
        raw=("A conversation between User and Assistant. The User asks a question, and the Assistant solves it. "
             "The Assistant first thinks about the reasoning process in the mind and then provides the User with "
             "the answer. " + R1_INSTRUCTION + "\nUser: {problem}\nAssistant: <think>"),
        user=("{problem}\n\nFirst think about the reasoning process in the mind, then give the answer. "
              + R1_INSTRUCTION),
        prefill="<think>",
        stop=("</answer>",),
    ),
    # Qwen2.5-Math / SimpleRL-Zoo style: the answer goes in \boxed{}.
    "boxed": Template(
        raw="{problem}\n" + BOXED_INSTRUCTION + "\n",
        user="{problem}\n" + BOXED_INSTRUCTION,
    ),
    # SPCT generative reward model (r1zero/tasks/grm.py, rewards/grm.py): {problem} holds the query and the numbered
    # responses; the model writes principles, a critique, then one score per response on the last line.
    "grm": Template(
        # A few-shot prompt: on the 138 held-out pairs at T=0.7 the raw form with these examples and `Principles:`
        # prefilled parses 40% of the time on SmolLM2-135M-Instruct (14% with the earlier two examples); instructions
        # alone, in raw or chat form, parsed 0 of 120. The stop "}" ends the completion at the end of the Scores
        # line, as "</answer>" does for r1 (principles and critique must not contain "}").
        raw=("Grade each response to the question: write principles, a critique, then one score from 1 (wrong) "
             "to 10 (right) per response.\n\n"
             + GRM_EXAMPLES +
             "{problem}\n\nPrinciples:"),
        user=("Grade each response to the question: write principles, a critique, then one score from 1 (wrong) "
              "to 10 (right) per response. Answer in exactly the form of the examples: start with `Principles:`, "
              "then `Critique:`, and end with the `Scores:` line.\n\n"
              + GRM_EXAMPLES +
              "Now grade these:\n\n{problem}"),
        prefill="Principles:",
        stop=("}",),
    ),
    # SEAL knowledge incorporation (r1zero/tasks/seal/): {problem} holds a passage; the completion is the self-edit.
    # Asking for "implications" (SEAL's wording) got SmolLM2-135M to write generic morals ("The passage highlights the
    # importance of planning"): 0.04 closed-book accuracy after the update on 10 passages, vs 0.12 with this wording.
    "seal": Template(
        raw=("{problem}\n\nRewrite the facts of the passage above as short sentences, one per line. "
             "Keep every number.\n"),
        user="Rewrite the facts of this passage as short sentences, one per line. Keep every number.\n\n{problem}",
    ),
    # SEAL on the fictional-entity passages (r1zero/tasks/seal/fiction.py): after a LoRA update, SmolLM2-135M
    # answers closed-book questions from question-answer lines (0.83 of 48 facts when the lines hold the exact
    # questions), almost never from sentences (0.02 for the passage itself, 0.05 for its sampled rewrites with the
    # `seal` wording). Without the worked example the untrained model wrote one or two off-topic questions (0.09 of
    # the facts learnt, 24 sampled self-edits); with it, about eight lines (0.25), some about the example's dog:
    # which facts it asks about, and how, is what the outer loop can learn.
    "seal_qa": Template(
        raw=("Passage:\n" + SEAL_EXAMPLE + "\n\nQuestions and answers:\n" + SEAL_EXAMPLE_QA
             + "\n\nPassage:\n{problem}\n\nQuestions and answers:\nQuestion:"),
        user=("Turn each fact of a passage into a question and its answer, one per line. Example:\n\nPassage:\n"
              + SEAL_EXAMPLE + "\n\nQuestions and answers:\n" + SEAL_EXAMPLE_QA + "\n\nNow this passage:\n{problem}"),
        prefill="Question:",
        chat_prefill="Question:",
        stop=("\n\n",),
    ),
    # SEAL's few-shot setting (r1zero/tasks/seal/fewshot.py, rules.py): {problem} holds a puzzle's demonstrations;
    # the completion is a plan from the menu (the lines after the prefilled "augment:"), not an answer. The worked
    # plan is the fixed-setting baseline's (fewshot.FIXED_PLAN), so the untrained policy starts near it.
    "seal_rules": Template(
        raw=("A hidden rule turns each input into its output:\n\n{problem}\n\n" + RULES_MENU
             + "\n\nPlan:\naugment:"),
        user="A hidden rule turns each input into its output:\n\n{problem}\n\n" + RULES_MENU,
        prefill="augment:",
        chat_prefill="augment:",
        stop=("\n\n",),
    ),
    # The CPU default task (two-digit addition) for the tiny embedded instruct model: graded on the last number.
    "plain": Template(
        raw="{problem}\n" + PLAIN_INSTRUCTION + "\nAnswer:",
        user="{problem}\n" + PLAIN_INSTRUCTION,
    ),
}


class PromptError(ValueError):
    """A template or tokenizer problem, saying how to fix it."""


def get_template(name: str) -> Template:
    if name not in TEMPLATES:
        raise PromptError(f"unknown prompt template `{name}`: set `data.template` to one of {', '.join(TEMPLATES)}")
    return TEMPLATES[name]


def prefill(template: str, chat: bool) -> str:
    """The part of the completion's format that the prompt already wrote (prepend it before format checks)."""
    tpl = get_template(template)
    return tpl.chat_prefill if chat else tpl.prefill


def stop_strings(template: str) -> list[str]:
    """Stop strings of a template (add them to `rollout.stop`)."""
    return list(get_template(template).stop)


def build_prompt(problem: str, template: str, tokenizer=None, chat: bool = False) -> str:
    """The prompt text for one problem: the raw template, or the user turn inside the tokenizer's chat template."""
    tpl = get_template(template)
    if not chat:
        return tpl.raw.replace("{problem}", problem)
    if tokenizer is None:
        raise PromptError("`data.chat=true` needs a tokenizer to apply its chat template")
    if not getattr(tokenizer, "chat_template", None):
        raise PromptError(f"the tokenizer `{getattr(tokenizer, 'name_or_path', '?')}` has no chat template: "
                          "set `data.chat=false` (base models use the raw template)")
    messages = [{"role": "user", "content": tpl.user.replace("{problem}", problem)}]
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + tpl.chat_prefill


def encode_prompts(rows: list[dict], template: str, tokenizer, chat: bool,
                   max_prompt_tokens: int) -> tuple[list[dict], list[list[int]], int]:
    """Template and tokenize `rows`; drop prompts longer than `max_prompt_tokens`.

    Returns (kept rows, each a copy with a `prompt` text field added; their token ids; the number dropped).
    Chat prompts already hold the special tokens (BOS, turn markers), so they are tokenized without adding any;
    raw prompts get the tokenizer's usual special tokens (e.g. a BOS for Llama-style base models).
    """
    if max_prompt_tokens < 1:
        raise PromptError(f"`data.max_prompt_tokens` must be >= 1, got {max_prompt_tokens}")
    try:
        texts = [build_prompt(row["problem"], template, tokenizer, chat) for row in rows]
        ids = tokenizer(texts, add_special_tokens=not chat)["input_ids"] if texts else []
    except (TypeError, ValueError) as e:  # the tokenizer's TypeError names no row: find it
        raise PromptError(_unencodable(rows, template, tokenizer, chat, e)) from None
    kept_rows, kept_ids = [], []
    for row, text, prompt_ids in zip(rows, texts, ids):
        if len(prompt_ids) <= max_prompt_tokens:
            kept_rows.append({**row, "prompt": text})
            kept_ids.append(list(prompt_ids))
    dropped = len(rows) - len(kept_rows)
    if rows and not kept_rows:
        longest = max(len(x) for x in ids)
        raise PromptError(f"all {len(rows)} prompts are longer than `data.max_prompt_tokens={max_prompt_tokens}` "
                          f"(longest {longest} tokens): raise data.max_prompt_tokens")
    return kept_rows, kept_ids, dropped


def encode_hinted(rows: list[dict], key: str, template: str, tokenizer, chat: bool) -> list[list[int]]:
    """Per row, the prompt ids with the row's `key` field after its problem (hinted sampling, `data.hint_frac`).

    Not length-filtered: `rows` are encode_prompts' kept rows and these ids stay aligned with theirs (a hint adds a
    line, the engine's max_model_len has room for it)."""
    missing = [i for i, row in enumerate(rows) if not isinstance(row.get(key), str) or not row[key].strip()]
    if missing:
        row = rows[missing[0]]
        raise PromptError(f"{len(missing)} of {len(rows)} training rows have no `{key}` text for hinted sampling "
                          f"(first: row {missing[0]}, id {row.get('id', '?')!r}): add the field, or set "
                          "data.hint_frac=0 (or data.hint_key to the field that holds the hint)")
    hinted = [{**row, "problem": row["problem"] + "\n\n" + row[key].strip()} for row in rows]
    return encode_prompts(hinted, template, tokenizer, chat, max_prompt_tokens=10 ** 9)[1]


def _unencodable(rows: list[dict], template: str, tokenizer, chat: bool, error: Exception) -> str:
    for row in rows:
        try:
            tokenizer([build_prompt(row["problem"], template, tokenizer, chat)], add_special_tokens=not chat)
        except (TypeError, ValueError) as e:
            return (f"row `{row.get('id')}`: its prompt cannot be tokenized ({type(e).__name__}: {e}); the problem "
                    f"is {str(row['problem'])[:60]!r}: it must be text without lone surrogates (e.g. \\ud800): fix "
                    "or drop the row")
    return f"the prompts cannot be tokenized ({type(error).__name__}: {error})"

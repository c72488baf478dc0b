"""SEAL's inner loop, run in worker processes: a fresh LoRA adapter trained on one self-edit, then closed-book QA.

    with InnerPool(workers=1, timeout_s=120, memory_gib=6) as pool:
        results = pool.run([InnerTask(base, config_dir, self_edit, questions, forgetting, settings), ...])

One task (`run_task`, in a worker):
  1. the base model: a HF model directory, or a snapshot of the trainer's current weights (`write_snapshot`:
     safetensors shards, config from `config_dir`); kept in the worker between tasks while the base stays the same;
  2. closed-book accuracy of the base model on the passage's questions and on the forgetting set (asked WITHOUT the
     passage; cached per base, so each base answers each question once);
  3. a fresh LoRA adapter (peft) on `lora_targets`, trained `inner_steps` epochs with AdamW on the self-edit: its
     lines are separate documents (list markers stripped), causal LM loss on every token, `inner_batch` per step;
  4. the same questions asked again with the adapter on; then the adapter is removed (`unload`), which gives back
     the untouched base module (its weights are frozen and never handed to the optimizer).
Questions are asked as raw text, like the self-edit the adapter learns from (`qa_prompt`). A question is right when
the number of the greedy answer (at most `answer_tokens` tokens; `answer_number`) equals the gold one by
`rewards.math_equal`; the mean log-probability of the gold answer's tokens is reported beside it.

Isolation and bounds (`InnerPool`): workers are separate processes started by a fork server (or spawned), never
forked from the trainer, so the inner update cannot touch the trainer's weights; each task runs under a hard
wall-clock limit (`timeout_s`: the worker is killed and replaced); each worker's address space is capped with
RLIMIT_AS (`memory_gib`): an allocation past it fails inside the worker (MemoryError, or torch's "can't allocate
memory"), the task is reported as an error, and a worker that dies of it is replaced. A failed task never raises in
the caller: it returns {"error": ...} (and "timeout": True for a timeout), which SealReward scores 0.
"""
from __future__ import annotations

import copy
import multiprocessing
import re
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, fields
from pathlib import Path

from r1zero.config import SealConfig

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
LIST_MARKER = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)]|\(\d{1,2}\)|[A-Za-z][.)](?=\s))\s*")
ANSWER_LINE = re.compile(r"^answer\s*:", re.IGNORECASE)
MAX_DOCS = 16  # self-edit lines trained on (the rest are ignored)
MAX_DOC_TOKENS = 128  # tokens per line


@dataclass
class InnerSettings:
    """The inner-loop knobs: the fields of the same names in the `seal:` config section (SealConfig), whose
    defaults are the only ones (`from_config()` with no argument)."""
    lora_rank: int
    lora_alpha: int
    lora_targets: list[str]
    inner_steps: int  # epochs over the self-edit's documents
    inner_lr: float
    inner_batch: int  # documents per optimizer step
    answer_tokens: int  # greedy tokens per closed-book answer

    @classmethod
    def from_config(cls, seal_cfg: SealConfig | None = None) -> InnerSettings:
        s = seal_cfg if seal_cfg is not None else SealConfig()
        return cls(**{f.name: copy.deepcopy(getattr(s, f.name)) for f in fields(cls)})


@dataclass
class InnerTask:
    base: str  # HF model directory, or a snapshot directory (`write_snapshot`; config and tokenizer: `config_dir`)
    config_dir: str
    text: str  # the self-edit
    questions: list[dict]  # [{"question", "answer"}]: about the passage
    forgetting: list[dict]  # [{"problem"|"question", "answer"}]: unrelated held-out set
    settings: InnerSettings = field(default_factory=InnerSettings.from_config)
    seed: int = 0
    fault: str = ""  # test hook: "crash" exits the worker, "hang" sleeps, "oom" allocates past the memory cap


# ---------------------------------------------------------------------------------------------- parsers


def self_edit_docs(text: str) -> list[str]:
    """The training documents of a self-edit: its non-empty lines, list markers stripped (at most MAX_DOCS). A line
    that starts with "Answer:" joins the line before it: a question and its answer are one document, or the update
    would learn the question and the answer apart."""
    docs: list[str] = []
    for line in text.replace("\r", "\n").split("\n"):
        line = LIST_MARKER.sub("", line).strip()
        if docs and ANSWER_LINE.match(line):
            docs[-1] += " " + line
        elif len(line) >= 3:
            docs.append(line)
    return docs[:MAX_DOCS]


def answer_number(text: str) -> str | None:
    """The number a closed-book answer gives: the last number on its first non-empty line
    ("20+18= 38 pencils" -> "38", " 1,200.\nNext" -> "1200"), or None."""
    found = NUMBER.findall(first_line(text))
    return found[-1].replace(",", "").rstrip(".") if found else None


def first_line(text: str) -> str:
    return next((ln for ln in text.strip().splitlines() if ln.strip()), "")


def is_correct(text: str, gold: str, match: str = "number") -> bool:
    """`match`: "number" (the answer's number equals the gold one) or "line" (its first non-empty line is the gold
    text, whitespace aside: a few-shot puzzle's output sequence)."""
    from rewards.math_equal import math_equal

    if match == "line":
        return first_line(text).split() == str(gold).split()
    pred = answer_number(text)
    return pred is not None and bool(math_equal(pred, str(gold)))


# ---------------------------------------------------------------------------------------------- model side


def qa_prompt(question: dict) -> str:
    """Closed-book prompt, raw text (like the self-edit the adapter was trained on): a cloze question is continued
    from the text before its blank; a few-shot puzzle's query follows its demonstrations; any other is asked as
    "Question: ...\nAnswer:"."""
    if question.get("demos") is not None:  # fewshot.is_puzzle, for one question
        from r1zero.tasks.seal.fewshot import context_prompt

        return context_prompt(question["demos"], str(question["question"]))
    if question.get("prefix"):
        return str(question["prefix"])
    return f"Question: {question.get('question') or question['problem']}\nAnswer:"


SNAPSHOT_META = "seal_snapshot.json"  # marks a weight snapshot directory (safetensors shards + the config's dir)


def load_base(base: str, config_dir: str):
    """fp32 eval-mode model, all weights frozen: a snapshot directory (`write_snapshot`) or a HF model directory."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if (Path(base) / SNAPSHOT_META).is_file():
        from safetensors.torch import load_file

        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(config_dir), dtype=torch.float32)
        state = {}
        for shard in sorted(Path(base).glob("shard-*.safetensors")):
            state.update({k: v.float() for k, v in load_file(str(shard)).items()})
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or [m for m in missing if "lm_head" not in m]:
            raise RuntimeError(f"snapshot {base} does not fit {config_dir}: missing={missing[:4]} "
                               f"unexpected={unexpected[:4]}")
        model.tie_weights()
    else:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model.requires_grad_(False)
    return model.eval()


def answer_questions(model, tok, questions: list[dict], max_new_tokens: int) -> list[dict]:
    """Greedy closed-book answers: [{"correct", "pred", "logp"}] (logp: mean log-prob of the gold answer tokens)."""
    import torch

    if not questions:
        return []
    prompts = [qa_prompt(q) for q in questions]
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)
    logps = gold_logprobs(model, tok, prompts, [" " + str(q["answer"]) for q in questions])
    return [{"correct": is_correct(t, q["answer"], q.get("match", "number")), "pred": t.strip()[:40], "logp": lp}
            for t, q, lp in zip(texts, questions, logps)]


def gold_logprobs(model, tok, prompts: list[str], golds: list[str]) -> list[float]:
    """Mean log-probability of each gold answer's tokens after its prompt (teacher-forced, one batch)."""
    import torch

    seqs, spans = [], []
    for p, g in zip(prompts, golds):
        pi = tok(p)["input_ids"]
        gi = tok(g, add_special_tokens=False)["input_ids"]
        seqs.append(pi + gi)
        spans.append((len(pi), len(pi) + len(gi)))
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), 1
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    out = []
    for i, (a, b) in enumerate(spans):
        tgt = ids[i, a:b]
        out.append(float(logp[i, a - 1:b - 1].gather(-1, tgt[:, None]).mean()))
    return out


def encode_doc(tok, doc: str | tuple[str, str]) -> tuple[list[int], list[int]]:
    """(input ids, labels) of one training document: a string trains on every token; a (prompt, target) pair on
    the target's only (a few-shot plan's output-only loss). Each ends with EOS."""
    if isinstance(doc, str):
        ids = tok(doc, add_special_tokens=False)["input_ids"][:MAX_DOC_TOKENS - 1] + [tok.eos_token_id]
        return ids, ids
    prompt = tok(doc[0], add_special_tokens=False)["input_ids"][-2 * MAX_DOC_TOKENS:]
    target = tok(doc[1], add_special_tokens=False)["input_ids"][:MAX_DOC_TOKENS - 1] + [tok.eos_token_id]
    return prompt + target, [-100] * len(prompt) + target


def train_lora(model, tok, docs: list, s: InnerSettings, seed: int):
    """Wrap `model` with a fresh LoRA adapter and train it on `docs` (`encode_doc`); returns (peft model, loss per
    step)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    lcfg = LoraConfig(r=s.lora_rank, lora_alpha=s.lora_alpha, target_modules=list(s.lora_targets),
                      lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, lcfg)
    params = [p for p in peft_model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=s.inner_lr, weight_decay=0.0)
    enc = [encode_doc(tok, d) for d in docs]
    losses: list[float] = []
    peft_model.train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(s.inner_steps):
        order = torch.randperm(len(enc), generator=g).tolist()
        for start in range(0, len(order), s.inner_batch):
            batch = [enc[i] for i in order[start:start + s.inner_batch]]
            width = max(len(x) for x, _ in batch)
            ids = torch.full((len(batch), width), tok.pad_token_id, dtype=torch.long)
            labels = torch.full_like(ids, -100)
            mask = torch.zeros_like(ids)
            for i, (x, y) in enumerate(batch):
                ids[i, :len(x)], labels[i, :len(y)] = torch.tensor(x), torch.tensor(y)
                mask[i, :len(x)] = 1
            loss = peft_model(input_ids=ids, attention_mask=mask, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            losses.append(float(loss.detach()))
    peft_model.eval()
    return peft_model, losses


def doc_loss(model, tok, docs: list[str]) -> float:
    """Mean causal LM loss of `docs` (one forward each): how well a model knows the self-edit."""
    import torch

    vals = []
    with torch.no_grad():
        for d in docs:
            ids = torch.tensor([tok(d, add_special_tokens=False)["input_ids"][:MAX_DOC_TOKENS - 1]
                                + [tok.eos_token_id]])
            vals.append(float(model(input_ids=ids, labels=ids).loss))
    return sum(vals) / max(len(vals), 1)


# ---------------------------------------------------------------------------------------------- worker


_STATE: dict = {"key": None, "model": None, "tok": None, "answers": {}}


def _base(task: InnerTask):
    """The task's base model and tokenizer, loaded once per base (a new snapshot file is a new base)."""
    from transformers import AutoTokenizer

    meta = Path(task.base) / SNAPSHOT_META
    key = (task.base, task.config_dir, meta.stat().st_mtime_ns if meta.is_file() else None)
    if _STATE["key"] != key or _STATE["model"] is None:
        _STATE.update(key=None, model=None, answers={})
        tok = AutoTokenizer.from_pretrained(task.config_dir)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        _STATE.update(model=load_base(task.base, task.config_dir), tok=tok, key=key)
    return _STATE["model"], _STATE["tok"]


def _base_answers(model, tok, questions: list[dict], s: InnerSettings) -> list[dict]:
    """The base model's answers, cached per base and question."""
    cache = _STATE["answers"]
    todo = [q for q in questions if qa_prompt(q) + "\x00" + str(q["answer"]) not in cache]
    for q, a in zip(todo, answer_questions(model, tok, todo, s.answer_tokens)):
        cache[qa_prompt(q) + "\x00" + str(q["answer"])] = a
    return [cache[qa_prompt(q) + "\x00" + str(q["answer"])] for q in questions]


def _fault(kind: str) -> None:
    if kind == "crash":
        import os

        os._exit(3)
    elif kind == "hang":
        time.sleep(3600)
    elif kind == "oom":
        blocks = []
        while True:  # a MemoryError under the RLIMIT_AS cap (the test sets a small one)
            blocks.append(bytearray(256 << 20))


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def run_task(task: InnerTask) -> dict:
    """One self-edit: accuracies before/after a fresh LoRA update on it (see the module doc). Runs in a worker."""
    t0 = time.perf_counter()
    _fault(task.fault)
    s = task.settings
    model, tok = _base(task)
    before = _base_answers(model, tok, task.questions, s)
    forget_before = _base_answers(model, tok, task.forgetting, s)
    docs, s, plan = training_data(task)
    out = {"docs": len(docs), "acc_before": mean([a["correct"] for a in before]),
           "logp_before": mean([a["logp"] for a in before]), **plan}
    if task.forgetting:
        out["forget_before"] = mean([a["correct"] for a in forget_before])
    if not docs:  # nothing to learn from: the model is unchanged; an invalid plan fails (SEAL's ARC setting)
        after, forget_after, losses = before, forget_before, []
        if plan.get("parsed") == 0.0:
            after = [dict(a, correct=False) for a in before]
    else:
        _STATE["model"] = None  # if anything below fails, the next task reloads a clean base
        peft_model, losses = train_lora(model, tok, docs, s, task.seed)
        try:
            after = answer_questions(peft_model, tok, task.questions, s.answer_tokens)
            forget_after = answer_questions(peft_model, tok, task.forgetting, s.answer_tokens)
        finally:
            _STATE["model"] = peft_model.unload()  # the base module, without the adapter
    out.update(acc_after=mean([a["correct"] for a in after]), logp_after=mean([a["logp"] for a in after]),
               correct_before=[a["correct"] for a in before], correct_after=[a["correct"] for a in after],
               answers=[a["pred"] for a in after], loss_first=losses[0] if losses else float("nan"),
               loss_last=losses[-1] if losses else float("nan"), inner_s=time.perf_counter() - t0)
    if task.forgetting:
        out["forget_after"] = mean([a["correct"] for a in forget_after])
    out["gain"] = out["acc_after"] - out["acc_before"]
    out["reward"] = out["gain"] if "parsed" not in out else out["acc_after"]  # few-shot: success, as in SEAL
    return out


def training_data(task: InnerTask) -> tuple[list, InnerSettings, dict]:
    """(documents, settings, plan info) of a task: a knowledge self-edit's lines under the configured settings; or,
    for a few-shot puzzle (its question carries `demos`), the documents and settings of the plan the self-edit
    states, with {"parsed": 1.0, "plan": ...} (an invalid plan: no documents, parsed 0)."""
    from r1zero.tasks.seal.fewshot import is_puzzle, parse_plan, plan_docs

    if not is_puzzle(task.questions):
        return self_edit_docs(task.text), task.settings, {}
    from dataclasses import replace

    plan = parse_plan(task.text)
    if plan is None:
        return [], task.settings, {"parsed": 0.0, "plan": None}
    settings = replace(task.settings, inner_lr=plan.lr, inner_steps=plan.epochs)
    return plan_docs(plan, task.questions[0]["demos"]), settings, {"parsed": 1.0, "plan": plan.describe()}


def _init_worker(memory_gib: float, threads: int) -> None:
    """Runs once in each new worker, outside any task's time limit: memory cap, threads, heavy imports."""
    import resource
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if memory_gib > 0:
        cap = int(memory_gib * (1 << 30))
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap if hard == resource.RLIM_INFINITY else min(cap, hard)))
    import torch

    torch.set_num_threads(max(1, threads))
    import peft  # noqa: F401
    import transformers  # noqa: F401


# ---------------------------------------------------------------------------------------------- pool


PRELOAD = ["torch", "peft", "r1zero.tasks.seal.inner"]  # imported once by the fork server, not by every new worker


def _context():
    """forkserver (spawn where missing): workers start from a clean server process, never forked from the
    trainer. The fork server is shared with `rewards.pool`, so its preload list is the union of both; whichever
    pool starts it first decides (a module that was not preloaded is imported by `_init_worker` instead)."""
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" not in methods:
        return multiprocessing.get_context("spawn")
    from rewards.pool import PRELOAD as REWARDS_PRELOAD

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(dict.fromkeys(REWARDS_PRELOAD + PRELOAD)))
    return ctx


class InnerPool:
    """Inner updates in worker processes, each task under a hard time limit and a memory cap."""

    def __init__(self, workers: int = 1, timeout_s: float = 120.0, memory_gib: float = 6.0, threads: int = 1):
        if workers < 1 or timeout_s <= 0:
            raise ValueError("seal: workers must be >= 1 and timeout_s > 0")
        self.workers, self.timeout_s, self.memory_gib, self.threads = workers, float(timeout_s), memory_gib, threads
        self._pool = None

    def _get(self):
        from pebble import ProcessPool

        if self._pool is None or not self._pool.active:
            if self._pool is not None:
                self._pool.stop()
            self._pool = ProcessPool(max_workers=self.workers, initializer=_init_worker,
                                     initargs=(self.memory_gib, self.threads), context=_context())
        return self._pool

    def run(self, tasks: list[InnerTask], timeout_s: float | None = None, desc: str = "") -> list[dict]:
        """One result dict per task, in order; a failed task gives {"error": ..., "timeout": bool}. Never raises.
        `timeout_s` overrides the pool's limit for these tasks; `desc` shows a progress bar (stderr) with that name
        (a held-out eval runs hundreds of updates; the trainer's own bar covers its calls)."""
        from tqdm import tqdm

        limit = float(timeout_s or self.timeout_s)
        futures = [self._get().schedule(run_task, args=(t,), timeout=limit) for t in tasks]
        with tqdm(total=len(futures), desc=desc, unit="update", disable=not desc, dynamic_ncols=True) as bar:
            out = []
            for f in futures:
                out.append(self._collect(f, limit))
                bar.update(1)
        return out

    def _collect(self, future, limit: float) -> dict:
        from pebble import ProcessExpired

        try:
            return future.result()
        except FutureTimeout:
            return {"error": f"timeout: killed after {limit:g} s", "timeout": True}
        except ProcessExpired as err:
            return {"error": f"worker died (exit code {err.exitcode})", "timeout": False}
        except MemoryError:
            return {"error": f"out of memory (cap {self.memory_gib:g} GiB)", "timeout": False}
        except Exception as err:  # an error inside the task (a bad self-edit, torch's allocation failure, ...)
            return {"error": f"{type(err).__name__}: {str(err)[:200]}", "timeout": False}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "InnerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


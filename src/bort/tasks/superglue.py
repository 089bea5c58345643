"""SuperGLUE readers (the official v2 ``*.jsonl`` files), with the paper's casting of QA tasks."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from bort.errors import BortError
from bort.tasks.example import Example
from bort.tasks.io import label_index, read_jsonl
from bort.tasks.spec import QA_MAX_LEN, TaskSpec

BOOL = ("false", "true")
NLI2 = ("entailment", "not_entailment")
NLI3 = ("contradiction", "entailment", "neutral")
SPLITS = {"train": "train.jsonl", "dev": "val.jsonl", "test": "test.jsonl"}


def _label(record: dict, labels, path, line_no, split):
    if split == "test" or "label" not in record:
        return None
    return label_index(record["label"], list(labels), path, line_no, "label")


def _read_pair(path: Path, split: str, a: str, b: str, labels) -> list[Example]:
    """A sentence-pair task: text fields ``a`` and ``b``, a ``label`` from ``labels``, the ``idx``."""
    return [Example(uid=r["idx"], text_a=r[a], text_b=r[b], label=_label(r, labels, path, n, split))
            for n, r in read_jsonl(path, [a, b, "idx"])]


def _boolq(path: Path, split: str) -> list[Example]:
    return [Example(uid=r["idx"], text_a=r["question"], text_b=r["passage"], label=_label(r, BOOL, path, n, split))
            for n, r in read_jsonl(path, ["question", "passage", "idx"])]


def _copa(path: Path, split: str) -> list[Example]:
    """Two binary examples per question: (premise + the question, choice); the better-scored wins."""
    prompts = {"cause": "What was the cause of this?", "effect": "What happened as a result?"}
    examples = []
    for n, r in read_jsonl(path, ["premise", "choice1", "choice2", "question", "idx"]):
        if r["question"] not in prompts:
            raise BortError(f"{path}, line {n}: field 'question' must be 'cause' or 'effect', got {r['question']!r}")
        gold = _label(r, ("0", "1"), path, n, split)
        for option, choice in enumerate((r["choice1"], r["choice2"])):
            examples.append(Example(uid=r["idx"], text_a=f"{r['premise']} {prompts[r['question']]}", text_b=choice,
                                    label=None if gold is None else int(gold == option), group=str(r["idx"]),
                                    meta={"option": option}))
    return examples


def _multirc(path: Path, split: str) -> list[Example]:
    """One binary example per answer option: (paragraph, question + answer).

    The question goes with the answer: truncation cuts the longer side first, so a long paragraph
    is shortened and the question is kept (beside the paragraph it would be cut off first)."""
    examples = []
    for n, r in read_jsonl(path, ["idx", "passage"]):
        passage = r["passage"]
        if "text" not in passage or "questions" not in passage:
            raise BortError(f"{path}, line {n}: field 'passage' must hold 'text' and 'questions'")
        text = re.sub(r"<br>|<b>Sent \d+: </b>", " ", passage["text"])
        text = " ".join(text.split())
        for q in passage["questions"]:
            for a in q["answers"]:
                label = None if split == "test" or "label" not in a else int(a["label"])
                examples.append(Example(uid=f"{r['idx']}-{q['idx']}-{a['idx']}", text_a=text,
                                        text_b=f"{q['question']} {a['text']}", label=label,
                                        group=f"{r['idx']}-{q['idx']}",
                                        meta={"passage": r["idx"], "question": q["idx"], "answer": a["idx"]}))
    return examples


def _record(path: Path, split: str) -> list[Example]:
    """One binary example per candidate entity: (passage, query with the entity in @placeholder)."""
    examples = []
    for n, r in read_jsonl(path, ["idx", "passage", "qas"]):
        text = r["passage"]["text"]
        entities = []
        for span in r["passage"].get("entities", []):
            entity = text[span["start"]:span["end"] + 1]
            if entity not in entities:
                entities.append(entity)
        if not entities:
            raise BortError(f"{path}, line {n}: the passage has no entities")
        passage = text.replace("@highlight\n", "- ")
        for qa in r["qas"]:
            golds = [a["text"] for a in qa.get("answers", [])]
            for entity in entities:
                label = None if split == "test" else int(entity in golds)
                examples.append(Example(uid=qa["idx"], text_a=passage,
                                        text_b=qa["query"].replace("@placeholder", entity),
                                        label=label, group=str(qa["idx"]), meta={"entity": entity, "answers": golds}))
    return examples


def _mark(words: list[str], index: int, text: str, left: str, right: str, path, n) -> None:
    """Wrap the span of ``text`` at word ``index`` in ``left`` … ``right``.

    A few official WSC records point one or two words off their span; the nearest word that
    starts the span is taken then. An index outside the text is an error.
    """
    span = text.split()
    if not span or not 0 <= index < len(words):
        raise BortError(f"{path}, line {n}: span {text!r} at word {index} is outside the text ({len(words)} words)")
    first = span[0].lower().strip(".,!?;:'\"")

    def starts(k: int) -> bool:
        return 0 <= k < len(words) and words[k].lower().lstrip("\"'(").startswith(first)

    found = next((k for d in range(6) for k in (index - d, index + d) if starts(k)), index)
    end = min(found + len(span), len(words)) - 1
    words[found] = left + words[found]
    words[end] = words[end] + right


def _wsc(path: Path, split: str) -> list[Example]:
    """The text with the noun phrase in [brackets] and the pronoun in *stars* (the paper's span marking)."""
    examples = []
    for n, r in read_jsonl(path, ["text", "target", "idx"]):
        t = r["target"]
        words = r["text"].split()
        _mark(words, t["span1_index"], t["span1_text"], "[", "]", path, n)
        _mark(words, t["span2_index"], t["span2_text"], "*", "*", path, n)
        examples.append(Example(uid=r["idx"], text_a=" ".join(words), text_b=None,
                                label=_label(r, BOOL, path, n, split)))
    return examples


def _wic(path: Path, split: str) -> list[Example]:
    """Both sentences with the target word in *stars*."""
    def marked(sentence: str, start: int, end: int) -> str:
        return sentence[:start] + "*" + sentence[start:end] + "*" + sentence[end:]

    return [Example(uid=r["idx"], text_a=marked(r["sentence1"], r["start1"], r["end1"]),
                    text_b=marked(r["sentence2"], r["start2"], r["end2"]), label=_label(r, BOOL, path, n, split))
            for n, r in read_jsonl(path, ["word", "sentence1", "sentence2", "start1", "end1", "start2", "end2", "idx"])]


# Sentence-pair readers: partials of one module-level function, so that each call looks the reader up anew.
_premise_hypothesis3 = partial(_read_pair, a="premise", b="hypothesis", labels=NLI3)
_premise_hypothesis2 = partial(_read_pair, a="premise", b="hypothesis", labels=NLI2)
_sentence_pair2 = partial(_read_pair, a="sentence1", b="sentence2", labels=NLI2)

SUPERGLUE_TASKS = [
    TaskSpec("superglue/BoolQ", "classification", SPLITS, _boolq, ("accuracy",), "BoolQ.jsonl", BOOL,
             max_len=QA_MAX_LEN),
    TaskSpec("superglue/CB", "classification", SPLITS, _premise_hypothesis3, ("macro_f1", "accuracy"),
             "CB.jsonl", NLI3),
    TaskSpec("superglue/COPA", "choice", SPLITS, _copa, ("accuracy",), "COPA.jsonl"),
    TaskSpec("superglue/MultiRC", "multirc", SPLITS, _multirc, ("f1a", "em"), "MultiRC.jsonl", max_len=QA_MAX_LEN),
    TaskSpec("superglue/ReCoRD", "choice", SPLITS, _record, ("f1", "em"), "ReCoRD.jsonl", max_len=QA_MAX_LEN),
    TaskSpec("superglue/RTE", "classification", SPLITS, _premise_hypothesis2, ("accuracy",), "RTE.jsonl",
             NLI2),
    TaskSpec("superglue/WiC", "classification", SPLITS, _wic, ("accuracy",), "WiC.jsonl", BOOL),
    TaskSpec("superglue/WSC", "classification", SPLITS, _wsc, ("accuracy",), "WSC.jsonl", BOOL,
             submission_labels=("False", "True")),
    TaskSpec("superglue/AX-b", "classification", {"dev": "AX-b.jsonl", "test": "AX-b.jsonl"},
             _sentence_pair2, ("mcc",), "AX-b.jsonl", NLI2, scored_by="superglue/RTE",
             test_only=True),
    TaskSpec("superglue/AX-g", "classification", {"dev": "AX-g.jsonl", "test": "AX-g.jsonl"},
             _premise_hypothesis2, ("gender_parity", "accuracy"), "AX-g.jsonl", NLI2,
             scored_by="superglue/RTE", test_only=True),
]

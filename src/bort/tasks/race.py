"""RACE: ``RACE/{train,dev,test}/{high,middle}/*.txt``, each a JSON object with article, questions,
options (4 per question), answers (letters) and id; cast as binary (article + question, option)."""

from __future__ import annotations

import json
from pathlib import Path

from bort.errors import BortError
from bort.tasks.example import Example
from bort.util.data_files import read_utf8, unique_keys

LETTERS = "ABCD"


def read_race(path: Path, split: str, level: str) -> list[Example]:
    """The questions of ``RACE/<split>/<level>/*.txt``, four (article, question + option) pairs each."""
    folder = path / level
    if not folder.is_dir():
        raise BortError(f"{folder} does not exist (expected RACE/{split}/{level}/*.txt from the official download)")
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise BortError(f"{folder} holds no .txt files")
    examples = []
    for file in files:
        try:
            record = json.loads(read_utf8(file), object_pairs_hook=unique_keys)
        except json.JSONDecodeError as exc:
            raise BortError(f"{file}, line {exc.lineno}: not valid JSON ({exc.msg})")
        except ValueError as exc:  # a repeated key (unique_keys)
            raise BortError(f"{file}: {exc}; rename or remove one of them")
        for field in ("article", "questions", "options", "answers", "id"):
            if field not in record:
                raise BortError(f"{file}: missing field {field!r}")
        if not len(record["questions"]) == len(record["options"]) == len(record["answers"]):
            raise BortError(f"{file}: questions, options and answers differ in length")
        for q, (question, options, answer) in enumerate(zip(record["questions"], record["options"], record["answers"])):
            if len(options) != 4 or answer not in LETTERS:
                raise BortError(f"{file}: question {q} needs 4 options and an answer in A-D, got {len(options)} "
                                f"options and {answer!r}")
            for k, option in enumerate(options):
                # Cloze questions ("... _ ...") read best with the option in the blank.
                text_b = question.replace("_", option) if "_" in question else f"{question} {option}"
                examples.append(Example(uid=f"{record['id']}-{q}", text_a=record["article"], text_b=text_b,
                                        label=int(LETTERS[k] == answer), group=f"{record['id']}-{q}",
                                        meta={"option": k, "letter": LETTERS[k]}))
    return examples

"""Run what ``bort export --auto`` / ``--path`` wrote: ``bort.inference.load(DIR)``.

    model = bort.inference.load("runs/served")
    logits = model(input_ids=ids, attention_mask=mask)   # numpy float32, e.g. (batch, labels)
    logits = model(**model.tokenizer(texts, pairs, return_tensors="np"))   # pairs: token_type_ids too (BERT)

The directory's ``export.json`` names the path; an ONNX path opens ``model.onnx`` in ONNX Runtime, a
PyTorch path loads the safetensors weights (no code from the directory runs) and applies the same
recipe the export timed. The CPU is checked first: a path that needs an instruction set this CPU lacks
is refused in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bort.errors import BortError
from bort.inference import paths

RECORD_FILE = "export.json"


@dataclass
class ExportedModel:
    """A path ready to run. Call it with ``input_ids`` and ``attention_mask`` (int64, batch × sequence, torch
    tensors or numpy arrays) and, for a BERT's sentence pairs, ``token_type_ids`` (zeros when left out: one
    segment); it returns the model's first output as float32 numpy."""

    directory: Path
    record: dict
    run: Callable = field(repr=False)
    tokenizer: object = field(default=None, repr=False)  # the model's tokenizer, when the directory has one
    takes_segments: bool = True  # whether the exported path takes token_type_ids (a BERT's pairs)

    @property
    def path(self) -> str:
        return self.record["path"]

    def __call__(self, input_ids, attention_mask, token_type_ids=None):
        import torch

        inputs = {"input_ids": torch.as_tensor(input_ids, dtype=torch.long),
                  "attention_mask": torch.as_tensor(attention_mask, dtype=torch.long)}
        if token_type_ids is not None:
            inputs["token_type_ids"] = torch.as_tensor(token_type_ids, dtype=torch.long)
            if not self.takes_segments and bool(inputs["token_type_ids"].any()):
                raise BortError(f"{self.directory}: this export takes no token_type_ids (a model with one segment, or "
                                "a BERT exported before bort served pairs); give none, or export it again (bort "
                                "export --restart)")
        with torch.inference_mode():
            return paths.as_numpy(self.run(inputs))


def read_record(directory: str | Path) -> dict:
    directory = Path(directory)
    record_file = directory / RECORD_FILE
    if not record_file.is_file():
        raise BortError(f"{directory} has no {RECORD_FILE}: expected a directory written by bort export --auto or "
                        "--path")
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BortError(f"{record_file}: not valid JSON ({exc})")
    if not isinstance(record, dict) or record.get("path") not in paths.PATHS:
        raise BortError(f"{record_file}: field 'path' must name one of {', '.join(paths.PATHS)}, got "
                        f"{record.get('path') if isinstance(record, dict) else record!r}")
    return record


def load(directory: str | Path, threads: int | None = None) -> ExportedModel:
    """The exported path in ``directory``, ready to call (see :class:`ExportedModel`). ``threads``: ONNX Runtime's
    intra-op threads; a PyTorch path uses torch's own setting (``torch.set_num_threads``)."""
    directory = Path(directory)
    record = read_record(directory)
    name = record["path"]
    missing = paths.missing_instructions(name)
    if missing:
        raise BortError(f"{directory}: path {name} needs {missing}, which this CPU lacks; export again here "
                        "(bort export --auto)")
    if paths.PATHS[name].runtime == "onnx":
        from bort.inference import onnx_runtime

        file = record.get("file", "model.onnx")
        if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
            raise BortError(f"{directory / RECORD_FILE}: field 'file' must name a file in {directory}, got {file!r}")
        session = onnx_runtime.ort_session(directory / file, threads=threads)
        run = lambda inputs: onnx_runtime.ort_run(session, inputs)  # noqa: E731
        takes_segments = onnx_runtime.SEGMENTS in {i.name for i in session.get_inputs()}
    else:
        from bort.checkpoint import load_model

        from bort.inference.onnx_runtime import SEGMENTS, input_names

        model = load_model(directory).eval()
        run, takes_segments = paths.build_runner(name, model, directory, threads), SEGMENTS in input_names(model)
    tokenizer = None
    if (directory / "tokenizer.json").is_file() or (directory / "vocab.txt").is_file():
        from bort.tokenizer import load_tokenizer

        tokenizer = load_tokenizer(directory)
    return ExportedModel(directory, record, run, tokenizer, takes_segments)

"""Cut a teacher's state dict down to a :class:`~bort.extract.selection.Selection`, consistently.

A hidden channel removed from the residual stream is removed everywhere it appears: the embeddings,
every projection's input (Q, K, V, the FFN's first layer, the pooler and MLM-head dense layers) and
output (W_O, the FFN's second layer), every LayerNorm, the MLM head's decoder (tied to the word
embeddings) and a sequence classifier's head (its input columns; RoBERTa's dense layer both ways).
Attention dimensions cut Q/K/V rows and W_O columns; FFN neurons the FFN's rows and
columns. Written by hand on the state dict: transformers 5 keeps only ``prune_linear_layer``, which
cuts one ``nn.Linear`` in place and knows nothing of the LayerNorms, embeddings and heads that must
follow a hidden channel.
"""

from __future__ import annotations

import re

import torch

from bort.errors import BortError
from bort.extract.selection import Selection

_LAYER = re.compile(r"^(?P<prefix>(?:bert\.|roberta\.)?)encoder\.layer\.(?P<index>\d+)\.(?P<rest>.+)$")
_PREFIX = re.compile(r"^(?:bert\.|roberta\.)")

# Parameters outside the encoder layers: which of their dimensions are hidden channels (0: rows, 1: columns).
_OUTER = {
    "embeddings.word_embeddings.weight": (1,),
    "embeddings.position_embeddings.weight": (1,),
    "embeddings.token_type_embeddings.weight": (1,),
    "embeddings.LayerNorm.weight": (0,),
    "embeddings.LayerNorm.bias": (0,),
    "pooler.dense.weight": (0, 1),
    "pooler.dense.bias": (0,),
    # RoBERTa's masked-LM head
    "lm_head.dense.weight": (0, 1),
    "lm_head.dense.bias": (0,),
    "lm_head.layer_norm.weight": (0,),
    "lm_head.layer_norm.bias": (0,),
    "lm_head.decoder.weight": (1,),
    "lm_head.decoder.bias": (),
    "lm_head.bias": (),
    # BERT's masked-LM head
    "cls.predictions.transform.dense.weight": (0, 1),
    "cls.predictions.transform.dense.bias": (0,),
    "cls.predictions.transform.LayerNorm.weight": (0,),
    "cls.predictions.transform.LayerNorm.bias": (0,),
    "cls.predictions.decoder.weight": (1,),
    "cls.predictions.decoder.bias": (),
    "cls.predictions.bias": (),
    # a sequence classifier's head (task-aware extraction keeps it): BERT's linear layer, RoBERTa's dense + out_proj
    "classifier.weight": (1,),
    "classifier.bias": (),
    "classifier.dense.weight": (0, 1),
    "classifier.dense.bias": (0,),
    "classifier.out_proj.weight": (1,),
    "classifier.out_proj.bias": (),
    # buffers
    "embeddings.position_ids": (),
    "embeddings.token_type_ids": (),
}


def _take(tensor: torch.Tensor, rows: list[int] | None, cols: list[int] | None = None) -> torch.Tensor:
    if rows is not None:
        tensor = tensor.index_select(0, torch.tensor(rows, dtype=torch.long))
    if cols is not None:
        tensor = tensor.index_select(1, torch.tensor(cols, dtype=torch.long))
    return tensor.clone()


def _layer_tensor(rest: str, tensor: torch.Tensor, dims: list[int], neurons: list[int], channels: list[int],
                  query_scale: float):
    """One encoder-layer parameter sliced: rows and columns by what they index (the query's scaled, see
    :mod:`bort.extract.selection`)."""
    if rest.startswith("attention.self.") and rest.split(".")[2] in ("query", "key", "value"):
        sliced = _take(tensor, dims, channels) if rest.endswith("weight") else _take(tensor, dims)
        return sliced * query_scale if rest.split(".")[2] == "query" and query_scale != 1.0 else sliced
    if rest.startswith("attention.output.dense."):
        return _take(tensor, channels, dims) if rest.endswith("weight") else _take(tensor, channels)
    if rest.startswith("intermediate.dense."):
        return _take(tensor, neurons, channels) if rest.endswith("weight") else _take(tensor, neurons)
    if rest.startswith("output.dense."):
        return _take(tensor, channels, neurons) if rest.endswith("weight") else _take(tensor, channels)
    if rest.startswith(("attention.output.LayerNorm.", "output.LayerNorm.")):
        return _take(tensor, channels)
    return None


def slice_state_dict(state: dict[str, torch.Tensor], selection: Selection) -> dict[str, torch.Tensor]:
    """The student's state dict: teacher layer ``selection.layers[j]`` becomes student layer j, each
    tensor cut to the kept attention dimensions, neurons and channels. A parameter this module does not
    know (another head, another model family) is refused by name."""
    position = {teacher: student for student, teacher in enumerate(selection.layers)}
    channels = selection.channels
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        match = _LAYER.match(key)
        if match:
            teacher_layer = int(match["index"])
            if teacher_layer not in position:
                continue
            j = position[teacher_layer]
            sliced = _layer_tensor(match["rest"], tensor, selection.attention_dims[j], selection.neurons[j], channels,
                                   selection.query_scale)
            if sliced is None:
                raise BortError(f"cannot extract the teacher's parameter {key}: bort slices BERT/RoBERTa encoders only")
            out[f"{match['prefix']}encoder.layer.{j}.{match['rest']}"] = sliced
            continue
        axes = _OUTER.get(_PREFIX.sub("", key))
        if axes is None:
            raise BortError(f"cannot extract the teacher's parameter {key}: bort slices BERT/RoBERTa encoders and "
                            "their pooler, masked-LM and sequence-classification heads only")
        out[key] = _take(tensor, channels if 0 in axes else None, channels if 1 in axes else None)
    return out

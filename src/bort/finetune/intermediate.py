"""Task distillation's intermediate terms: the student's hidden states and attention relations pulled towards the
fine-tuned teacher's on the task's own inputs (TinyBERT's task-specific stage), beside the logit mix of
:mod:`bort.finetune.distil`.

γ·hidden-state MSE against the teacher layer each student layer was cut from (``extraction.json``, which ``bort
extract`` writes and ``bort pretrain --init`` carries on; evenly spaced layers otherwise), through a learned
projection where the widths differ; δ·MiniLMv2's query/key/value relations of the last layer. The same losses as
pre-training's (:mod:`bort.distill`). Unlike the teacher's logits, its hidden states are not cached (a step's worth
is megabytes): the teacher runs forward at every step.
"""

from __future__ import annotations

import torch

from bort.architecture.hf_config import arch_of
from bort.distill.hooks import captured_qkv, qkv_of
from bort.distill.intermediate import IntermediateTerms, attention_relation_loss, hidden_state_loss, relation_heads
from bort.distill.layer_map import HiddenProjection, intermediate_mapping
from bort.extract.selection import read_selection


class ClassifierStates(torch.nn.Module):
    """A sequence classifier whose forward returns (logits (B, L), every layer's hidden states (embeddings first),
    each (B, S, H) or projected to (B, S, H_T), and ``relation_layer``'s (query, key, value) outputs or None).

    A module of its own, holding the projection, so that the optimizer, the checkpoint and DDP see the projection
    with the model it is trained beside."""

    def __init__(self, model: torch.nn.Module, projection: HiddenProjection | None = None,
                 relation_layer: int | None = None):
        super().__init__()
        self.model, self.projection, self.relation_layer = model, projection, relation_layer

    def forward(self, **batch: torch.Tensor):
        with captured_qkv(self.model.base_model.encoder, self.relation_layer) as captured:
            output = self.model(**batch, output_hidden_states=True)
        states = output.hidden_states
        if self.projection is not None:
            states = tuple(self.projection(h) for h in states)
        return output.logits, states, qkv_of(captured)


class IntermediateDistillation:
    """The student (wrapped, with its projection) and the teacher read for their states; :meth:`loss` adds
    γ·hidden + δ·relations for one batch."""

    def __init__(self, student: torch.nn.Module, teacher: torch.nn.Module, student_dir: str, hidden_weight: float,
                 attention_weight: float, seed: int):
        s_cfg, t_cfg = student.config, teacher.config
        selection = read_selection(student_dir, arch_of(t_cfg))
        layer_map, projection = intermediate_mapping(s_cfg, t_cfg, selection and selection.layers,
                                                     selection and selection.channels, hidden_weight > 0, seed)
        heads = relation_heads(s_cfg.num_attention_heads, t_cfg.num_attention_heads)
        self.terms = IntermediateTerms(hidden_weight, attention_weight, layer_map, heads)
        self.from_extraction = selection is not None and list(selection.layers) == layer_map
        relations = attention_weight > 0
        self.student = ClassifierStates(student, projection, s_cfg.num_hidden_layers - 1 if relations else None)
        self.teacher = ClassifierStates(teacher, None, layer_map[-1] if relations else None)

    def loss(self, states, qkv, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """γ·hidden-state MSE + δ·relation KL of the student's ``states`` and ``qkv`` (from :attr:`student`'s
        forward on ``batch``) against the teacher's on the same batch, each a mean over the real tokens."""
        with torch.inference_mode():
            _, t_states, t_qkv = self.teacher(**batch)
        real = batch["attention_mask"] > 0
        total = torch.zeros((), device=real.device)
        if self.terms.hidden_weight > 0:
            t_states = tuple(t.clone() for t in t_states)  # ordinary tensors again, usable by autograd
            total = total + self.terms.hidden_weight * hidden_state_loss(states, t_states, self.terms.layer_map, real)
        if self.terms.attention_weight > 0:
            t_qkv = tuple(t.clone() for t in t_qkv)
            total = total + self.terms.attention_weight * attention_relation_loss(qkv, t_qkv, real,
                                                                                  self.terms.relation_heads)
        return total

    def describe(self) -> dict:
        """What metrics.json records of the terms."""
        return {"hidden_weight": self.terms.hidden_weight, "attention_weight": self.terms.attention_weight,
                "layer_map": self.terms.layer_map,
                "layer_map_from": "extraction.json" if self.from_extraction else "evenly spaced",
                "projection": self.student.projection is not None}

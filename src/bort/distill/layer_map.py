"""Which teacher layer each student layer learns from, and the learned map between their hidden widths.

A student cut out by ``bort extract`` learns from the teacher layers it was cut from, and its projection
starts as the embedding of its kept channels; any other student maps its layers evenly over the teacher's.
"""

from __future__ import annotations

import math

import torch


def uniform_layer_map(student_depth: int, teacher_depth: int) -> list[int]:
    """Teacher layer of each student layer when nothing better is known: evenly spaced, last to last."""
    return [math.ceil((j + 1) * teacher_depth / student_depth) - 1 for j in range(student_depth)]


class HiddenProjection(torch.nn.Module):
    """The learned map from the student's hidden width to the teacher's (TinyBERT's W_h), (…, H) → (…, H_T).

    For an extracted student it starts as the embedding of its kept channels (channel k of the student
    is channel ``channels[k]`` of the teacher), so the loss starts at what extraction left, not at noise.
    """

    def __init__(self, student_width: int, teacher_width: int, channels: list[int] | None = None):
        super().__init__()
        self.linear = torch.nn.Linear(student_width, teacher_width, bias=False)
        if channels is not None:
            with torch.no_grad():
                self.linear.weight.zero_()
                self.linear.weight[torch.tensor(channels), torch.arange(student_width)] = 1.0

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.linear(states)


def intermediate_mapping(student_cfg, teacher_cfg, layers: list[int] | None, channels: list[int] | None,
                         project: bool, seed: int) -> tuple[list[int], HiddenProjection | None]:
    """(the teacher layer of each student layer, the projection from the student's width to the teacher's or None).

    ``layers`` and ``channels``: the teacher layers and hidden channels the student was cut from (``bort extract``'s
    selection), or None; they are used only when they fit the student (a student extracted from another teacher
    falls back to the even map). ``project``: whether a hidden-state term needs the projection (only built where the
    widths differ), seeded with ``seed`` without moving the caller's random state.
    """
    depth, teacher_depth = student_cfg.num_hidden_layers, teacher_cfg.num_hidden_layers
    fits = layers is not None and channels is not None and len(layers) == depth \
        and len(channels) == student_cfg.hidden_size
    layer_map = list(layers) if fits else uniform_layer_map(depth, teacher_depth)
    projection = None
    if project and student_cfg.hidden_size != teacher_cfg.hidden_size:
        with torch.random.fork_rng():  # its own seed, without moving the run's RNG
            torch.manual_seed(seed)
            projection = HiddenProjection(student_cfg.hidden_size, teacher_cfg.hidden_size,
                                          list(channels) if fits else None)
    return layer_map, projection

"""The one example type every task is read into."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Example:
    """One input to a classifier or regressor.

    ``uid`` is the id the leaderboard knows the example by (GLUE's ``index``, SuperGLUE's ``idx``)
    or its row number. Multiple-choice and QA tasks are cast as binary pair classification: one
    Example per (context + question, answer) with ``group`` naming the question, so that the
    options of a question are scored together; ``meta`` keeps what the metric or the submission
    file needs (the option's text, MultiRC's passage/question/answer ids, AX-g's pair id, ...).
    """

    uid: str | int
    text_a: str
    text_b: str | None = None
    label: int | float | None = None  # class index, a float for regression, None when unlabelled
    group: str | None = None
    meta: dict = field(default_factory=dict)

"""Agora's configuration: Agora's own options (:class:`AgoraOptions`) on top of fine-tuning's (the plain flags:
epochs, batch size, dropout, head init, max length, patience, E/H split, φ, a teacher to distil from), since each of
Agora's trainings is a plain fine-tuning. A run's is saved as agora_config.json.

Agora's own options are a class of their own so that ``bort finetune`` (either method,
:class:`bort.api.FinetuneCommandConfig`) composes its flags from fine-tuning's and these, each defined once, without
describing plain fine-tuning as an Agora run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bort.agora.prune import RULES
from bort.config import Config, field_default, option
from bort.errors import BortError
from bort.finetune.config import FinetuneConfig

AGORA = "agora (--method agora)"


@dataclass(kw_only=True)
class AgoraOptions(Config):
    """Agora's own options, mixed into a :class:`FinetuneConfig` (they read its ``method``): by
    :class:`AgoraConfig`, an Agora run's, and by ``bort finetune``'s, which takes either method."""

    socrates: str | None = option(None, "Socrates: a local sequence-classification directory fine-tuned on the task "
                                  "(its own tokenizer; labels matched by id2label names) that labels the new points",
                                  metavar="MODEL_DIR", group=AGORA)
    theta: str = option("cpu-small", "Θ: paper (the Bort README's 240 sets), cpu-small (8 sets), or a YAML/JSON "
                        "file (a grid or a list of {lr, weight_decay, warmup_ratio, seed})", metavar="PRESET|FILE",
                        group=AGORA)
    phi_per_mistake: int = option(4, "new points made from each mistake on E", minimum=1, group=AGORA)
    min_confidence: float = option(0.0, "drop new points Socrates labels with a top probability below this "
                                   "(classification)", minimum=0, group=AGORA)
    keep_label_balance: bool = option(False, "subsample each iteration's new points so that their labels follow the "
                                      "training set's proportions (the paper enforces equal label proportions in "
                                      "Agora's run)", group=AGORA)
    max_added_share: float | None = option(None, "at most this share of the training set's size joins D per "
                                           "iteration (a seeded subsample of the new points)", above=0, group=AGORA)
    phi_check: int = option(100, "before training, φ perturbs this many training examples and Socrates labels them: "
                            "how often the gold label survives (0: skip)", minimum=0, group=AGORA,
                            resumable=True)
    prune: str = option("longest-shared-run", "how Θ shrinks: longest-shared-run (the paper's rule as we read it: the "
                        "longest run of top-ranked sets that share a value with the first), worst-shared-run (the same "
                        "rule on the list sorted worst first: the winners stay) or worst-half", choices=tuple(RULES),
                        group=AGORA)
    replay: int = option(0, "repeat an iteration that did not improve E's best score, at most N times in a row, "
                         "before pruning", minimum=0, group=AGORA)
    max_iterations: int | None = option(None, "stop after this many iterations", minimum=1, group=AGORA,
                                        resumable=True)
    max_minutes: float | None = option(None, "stop starting iterations once this much wall-clock is spent", above=0,
                                       group=AGORA, resumable=True)
    soft_labels: bool = option(False, "the new points carry Socrates' outputs instead of its argmax: every training "
                               "distils from Socrates (bort finetune --teacher SOCRATES: α·τ²·KL on every input, "
                               "+ (1 − α)·CE where there is a gold label; the new points have none)", group=AGORA)
    min_socrates: float = option(2 / 3, "refuse a Socrates whose agreement with E's labels is below this (the "
                                 "paper's requirement)", minimum=0, group=AGORA, show="2/3")
    force: bool = option(False, "run with a Socrates below --min-socrates", group=AGORA, resumable=True)
    workers: int = option(1, "hyperparameter sets trained in parallel (local processes)", minimum=1, group=AGORA,
                          resumable=True)
    ray: str | None = option(None, "train them on Ray instead: 'local' (a private cluster on loopback) or an "
                             "address", metavar="local|ADDRESS", group=AGORA, resumable=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.method == "agora" and not self.socrates:
            raise BortError("--method agora needs --socrates MODEL_DIR: a model fine-tuned on the task that labels "
                            "the new points")
        if self.min_confidence > 1:
            raise BortError(f"--min-confidence {self.min_confidence:g}: a probability, expected at most 1")
        if self.soft_labels and getattr(self, "teacher", None):
            raise BortError(f"--soft-labels distils every training from --socrates; drop --teacher {self.teacher}")
        if self.method == "agora" and (getattr(self, "predict_test", False) or getattr(self, "test", None)):
            raise BortError("Agora does not predict a test file yet: drop --test/--predict-test and run `bort evaluate "
                            "--split test` on its best/ model")

    def agora_flags_given(self) -> list[str]:
        """Agora's own flags set away from their defaults (refused with --method plain)."""
        return ["--" + f.name.replace("_", "-") for f in dataclasses.fields(AgoraOptions)
                if getattr(self, f.name) != f.default]


@dataclass(kw_only=True)
class AgoraConfig(AgoraOptions, FinetuneConfig):
    """An Agora run's configuration, what :func:`bort.agora.loop.agora` takes (fine-tuning's fields first, then
    Agora's: the order of the bases puts them so)."""

    def plain(self) -> FinetuneConfig:
        """The same run as plain fine-tuning's config, as one θ's training takes it: selected on E, it predicts no
        test file, and φ (the loop's, not a training's, which has no --augment) stays at its defaults. With
        --soft-labels it distils from Socrates."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(FinetuneConfig)}
        for field in dataclasses.fields(FinetuneConfig):
            if field.name in ("phi", "phi_model", "phi_fraction", "test", "predict_test"):
                values[field.name] = field_default(field)
        if self.soft_labels:
            values["teacher"] = self.socrates
        return FinetuneConfig(**values)

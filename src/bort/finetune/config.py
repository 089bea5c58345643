"""Fine-tuning's and evaluation's configurations; a run's is saved as finetune_config.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bort.config import field_default, option, restart_option
from bort.distill.options import attention_weight_option, hidden_weight_option
from bort.errors import BortError
from bort.tasks.augment import PHIS
from bort.tasks.custom import CUSTOM, CustomTaskOptions, check_custom_options

METHODS = ("plain", "agora")
RUN = "run"
TRAINING = "training"
EVALUATION = "evaluation"
DISTILLATION = "task distillation (--teacher) and augmentation"


@dataclass(kw_only=True)
class FinetuneConfig(CustomTaskOptions):
    model: str = option(help="a local Hugging Face encoder checkpoint (any BERT or RoBERTa directory)",
                        metavar="MODEL_DIR", group=RUN)
    task: str = option(help="e.g. glue/RTE, superglue/CB, race/high (see `bort evaluate --list`), or custom: your "
                       "own files (--train, --dev, the column flags below)", group=RUN)
    data: str | None = option(None, "the task's official folder (…/glue/RTE, …/superglue/CB, …/RACE); not used by "
                              "--task custom", metavar="TASK_DIR", group=RUN)
    out: str = option(help="the run directory", metavar="RUN_DIR", group=RUN, resumable=True)
    method: str = option("plain", "plain fine-tuning, or Agora (the paper's: Socrates-labelled augmentation of "
                         "the mistakes, hyperparameter pruning)", choices=METHODS, group=RUN)
    restart: bool = restart_option(RUN)
    epochs: int | None = option(None, "at most this many epochs (default: by the model's size, from 3 for "
                                "BERT-base up to 10 for a small student: ceil(3·sqrt(s)), s = (768/H)·sqrt(12/D))",
                                minimum=1, group=TRAINING)
    batch_size: int = option(16, "examples per step", minimum=1, group=TRAINING)
    lr: float | None = option(None, "peak learning rate (default: by the model's size, 5e-5·s in [1e-5, 5e-4]: 5e-5 "
                              "for BERT-base, 3.7e-4 for a ⟨2,8,256,512⟩ student)", above=0, group=TRAINING)
    weight_decay: float = option(0.01, "AdamW weight decay (none on biases and LayerNorms)", minimum=0, group=TRAINING)
    warmup_ratio: float = option(0.1, "linear warm-up over this share of the steps, then linear decay", minimum=0,
                                 group=TRAINING)
    clip: float = option(1.0, "gradient-norm clipping; 0 turns it off", minimum=0, group=TRAINING)
    max_len: int | None = option(None, "tokens per example, longer ones truncated (default: the task's, 128; 256 for "
                                 "the passage QA tasks BoolQ, MultiRC, ReCoRD and RACE)", minimum=8, group=TRAINING)
    dropout: float = option(0.1, "dropout of the encoder and the classifier", minimum=0, group=TRAINING)
    head_init: float | None = option(None, "a: draw the head's weights from U(-a, a) (the paper: 0.5)", above=0,
                                     group=TRAINING)
    head: str = option("pooler", "the classifier on the first token: pooler (Hugging Face's: a dense layer and tanh, "
                       "then a linear layer) or linear (the paper's single linear layer: the dense layer is fixed to "
                       "the identity and frozen, so only the last layer learns; tanh stays, as transformers has no "
                       "switch for it)", choices=("pooler", "linear"), group=TRAINING)
    patience: int = option(2, "epochs without a better dev metric before stopping", minimum=1, group=TRAINING)
    max_train_examples: int | None = option(None, "train on a seeded subset of this size", minimum=1, group=TRAINING)
    balance: bool = option(False, "balance binary-cast QA and multiple-choice tasks by discarding negatives (the "
                           "paper's way)", group=TRAINING)
    seed: int = option(0, "seed of the head's initialisation, the data order and dropout", group=TRAINING)
    teacher: str | None = option(None, "distil from this fine-tuned classifier (or regressor) for the same task and "
                                 "classes, with the student's vocabulary: the loss becomes α·τ²·KL(teacher ‖ student) "
                                 "+ (1 − α)·the gold labels' loss (MSE to the teacher's output for regression)",
                                 metavar="FINETUNED_DIR", group=DISTILLATION)
    alpha: float = option(0.9, "α: the teacher's share of the loss (with --teacher)", minimum=0, group=DISTILLATION)
    temperature: float = option(2.0, "τ: the softmax temperature of both sides of the KL (with --teacher)", above=0,
                                group=DISTILLATION)
    hidden_weight: float = hidden_weight_option(DISTILLATION, "--teacher; the teacher runs at every step")
    attention_weight: float = attention_weight_option(DISTILLATION, "--teacher; the teacher runs at every step")
    augment: int = option(0, "add this many perturbed copies (φ) of each training input, labelled by the teacher's "
                          "outputs alone (needs --teacher)", minimum=0, group=DISTILLATION)
    unlabeled: list[str] | None = option(None, "in-domain inputs without labels for the teacher to label (needs "
                                         "--teacher): text files (one input a line) or tables whose --text-column "
                                         "(and --text-pair-column) hold them", metavar="FILE", group=DISTILLATION)
    phi: str = option("mlm-replace", "φ, the perturbation of an input (--augment's copies; Agora's new points)",
                      choices=PHIS, group=DISTILLATION)
    phi_model: str | None = option(None, "the masked LM mlm-replace samples from (default: --model, which must then "
                                   "have its MLM head)", metavar="MLM_DIR", group=DISTILLATION)
    phi_fraction: float = option(0.15, "share of the word pieces (mlm-replace) or words φ changes", above=0,
                                 group=DISTILLATION)
    holdout_fraction: float | None = option(None, "share of the official dev set held out as H, stratified and "
                                            "seeded: the model is selected on the rest (E) and scored on H, which "
                                            "nothing selected on (default: 0.5 with --method agora, 0 with plain: "
                                            "then the dev score is the one early stopping selected on)", minimum=0,
                                            group=EVALUATION)
    holdout: str | None = option(None, "a labelled file in the task's dev format to score on as H instead; E is then "
                                 "the whole dev set", metavar="FILE", group=EVALUATION)
    predict_test: bool = option(False, "also predict the task's official test split (in --data) with the selected "
                                "model: test_predictions.jsonl, and its scores in metrics.json when it is labelled (as "
                                "RACE's is); a custom task's --test FILE is predicted whenever it is given",
                                group=EVALUATION)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_custom_options(self, self.task, need=("train", "dev"))
        if self.task != CUSTOM and not self.data:
            raise BortError(f"--data TASK_DIR is required: the folder of {self.task}'s official files")
        if self.holdout_fraction is not None and not self.holdout_fraction < 1:
            raise BortError(f"--holdout-fraction must be below 1, got {self.holdout_fraction}")
        if self.predict_test and self.task == CUSTOM:
            raise BortError("--predict-test reads a benchmark's official test split; a custom task's --test FILE is "
                            "predicted whenever it is given")
        if self.holdout and self.holdout_fraction:
            raise BortError("give --holdout FILE or --holdout-fraction, not both")
        if self.alpha > 1:
            raise BortError(f"--alpha {self.alpha:g}: the teacher's share of the loss, expected at most 1")
        if not self.teacher:
            defaults = {f.name: field_default(f) for f in dataclasses.fields(self)}
            ignored = [f"--{name.replace('_', '-')}" for name in ("alpha", "temperature", "hidden_weight",
                                                                  "attention_weight")
                       if getattr(self, name) != defaults[name]]
            if ignored:
                raise BortError(f"{', '.join(ignored)} appl{'ies' if len(ignored) == 1 else 'y'} with --teacher "
                                "FINETUNED_DIR only (the teacher's share of the loss, its temperature and the "
                                "intermediate terms' weights)")
        if self.unlabeled and not self.teacher:
            raise BortError("--unlabeled needs --teacher FINETUNED_DIR: its inputs are labelled by the teacher's "
                            "outputs alone")
        if not self.augment and self.method != "agora":
            defaults = {f.name: field_default(f) for f in dataclasses.fields(self)}
            ignored = [f"--{name.replace('_', '-')}" for name in ("phi", "phi_model", "phi_fraction")
                       if getattr(self, name) != defaults[name]]
            if ignored:
                raise BortError(f"{', '.join(ignored)} shape{'s' if len(ignored) == 1 else ''} the perturbed copies of "
                                "--augment N (and Agora's new points); without --augment nothing reads "
                                f"{'it' if len(ignored) == 1 else 'them'}")
        if self.augment and not self.teacher:
            raise BortError(f"--augment {self.augment} needs --teacher FINETUNED_DIR: the copies are labelled by the "
                            "teacher's outputs, never by a guessed gold label")

    @property
    def holdout_share(self) -> float:
        """The share of dev held out: the flag, else the method's default."""
        if self.holdout:
            return 0.0
        if self.holdout_fraction is not None:
            return self.holdout_fraction
        return 0.5 if self.method == "agora" else 0.0


@dataclass(kw_only=True)
class EvaluateConfig(CustomTaskOptions):
    model: str | None = option(None, "a fine-tuned model directory (with --all: a folder holding one per task)",
                               metavar="RUN_DIR")
    task: str | None = option(None, "e.g. glue/RTE (see --list)")
    data: str | None = option(None, "the task's official folder (with --all: the benchmark's)", metavar="TASK_DIR")
    split: str = option("dev", "dev, test or train", choices=("dev", "test", "train"))
    submission: str | None = option(None, "write the leaderboard file(s) into this folder", metavar="OUT_DIR")
    all: str | None = option(None, "every task of a benchmark: its complete submission set",
                             choices=("glue", "superglue"), metavar="BENCHMARK")
    out: str | None = option(None, "where to save the metrics (default: ./eval-MODEL-TASK-SPLIT/metrics.json in the "
                             "current directory; never inside the model directory)",
                             metavar="FILE.json")
    batch_size: int = option(32, "examples per forward pass", minimum=1)
    max_len: int | None = option(None, "tokens per example (default: the run's own)", minimum=8)
    list: bool = option(False, "list the tasks, their metrics and submission files")

"""Task distillation (``bort finetune --teacher``) and the teacher-labelled copies of ``--augment``."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bort.cli.main import main
from bort.finetune.augmented import augmented_inputs
from bort.finetune.config import FinetuneConfig
from bort.finetune.distil import CACHE_FILE, TaskTeacher, distillation_loss, text_key
from bort.finetune.plain import FineTuning, finetune
from bort.tasks import get_task
from bort.tasks.encode import collate


def _softmax(row, tau=1.0):
    exps = [math.exp(x / tau) for x in row]
    return [e / sum(exps) for e in exps]


def test_the_classification_mix_is_the_hand_computed_one():
    student = [[1.0, -0.5, 0.25], [0.2, 0.3, -1.0], [2.0, 0.0, 0.5]]
    teacher = [[0.5, 0.0, -0.5], [-1.0, 1.0, 0.0], [0.0, 0.0, 3.0]]
    gold, has_gold, alpha, tau = [0, 1, 2], [True, True, False], 0.7, 2.0
    expected = []
    for s, t, y, labelled in zip(student, teacher, gold, has_gold):
        p_t, p_s = _softmax(t, tau), _softmax(s, tau)
        kl = sum(a * (math.log(a) - math.log(b)) for a, b in zip(p_t, p_s))
        ce = -math.log(_softmax(s)[y])
        expected.append(alpha * tau**2 * kl + (1 - alpha) * ce if labelled else tau**2 * kl)
    got = distillation_loss(torch.tensor(student), torch.tensor(teacher), torch.tensor(gold), torch.tensor(has_gold),
                            alpha, tau, regression=False)
    assert float(got) == pytest.approx(sum(expected) / 3, rel=1e-6)


def test_the_regression_mix_is_the_hand_computed_one():
    student, teacher, gold, has_gold = [[2.0], [4.5], [1.0]], [[2.5], [4.0], [0.0]], [3.0, 5.0, 9.9], \
        [True, True, False]
    alpha = 0.25
    expected = [alpha * 0.25 + 0.75 * 1.0, alpha * 0.25 + 0.75 * 0.25, 1.0]  # the copy: the teacher's term alone
    got = distillation_loss(torch.tensor(student), torch.tensor(teacher), torch.tensor(gold), torch.tensor(has_gold),
                            alpha, 2.0, regression=True)
    assert float(got) == pytest.approx(sum(expected) / 3, rel=1e-6)


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """The student ⟨1,2,32,64⟩ (a masked LM) and classifiers on the same vocabulary: RTE's two classes, RTE's classes
    in the other order, CB's three, a regressor, and one whose vocabulary is another."""
    from bort.architecture import Arch, Vocab
    from bort.architecture.build import build_roberta
    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.tokenizer import load_tokenizer

    root, tokenizer = tmp_path_factory.mktemp("teachers"), load_tokenizer()
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=0), tokenizer, root / "student")
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=1), tokenizer, root / "encoder")
    torch.manual_seed(3)
    made = {"rte": classifier_from_encoder(root / "encoder", 2, ("entailment", "not_entailment")),
            "rte-reversed": classifier_from_encoder(root / "encoder", 2, ("not_entailment", "entailment")),
            "cb": classifier_from_encoder(root / "encoder", 3, ("contradiction", "entailment", "neutral")),
            "regressor": classifier_from_encoder(root / "encoder", 1, (), regression=True)}
    for name, model in made.items():
        save_model_dir(model, tokenizer, root / name)
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), Vocab(size=1000), head="mlm", seed=0), tokenizer,
                   root / "small-vocab-encoder")
    other = classifier_from_encoder(root / "small-vocab-encoder", 2, ("entailment", "not_entailment"))
    save_model_dir(other, tokenizer, root / "other-vocab")
    # RTE's labels, but fine-tuned by bort on QNLI (whose labels are the same two): its saved configuration says so.
    # and the same saved by bort under the names a user may type for the task's own data: each is accepted.
    for name, source, task in (("qnli", "rte", "glue/QNLI"), ("rte-typed", "rte", "glue/rte"),
                               ("mnli", "cb", "glue/MNLI"), ("rte-superglue", "rte", "superglue/RTE")):
        shutil.copytree(root / source, root / name)
        FinetuneConfig(model=str(root / "encoder"), task=task, data="DIR", out=str(root / name)).save(
            root / name / "finetune_config.json")
    return root


def _config(teachers, shared_data, out, **changes) -> FinetuneConfig:
    values = dict(model=str(teachers / "student"), task="glue/RTE", data=str(shared_data / "glue/RTE"), out=str(out),
                  teacher=str(teachers / "rte"), epochs=1, batch_size=8, lr=1e-3, max_len=48, max_train_examples=32,
                  seed=0)
    return FinetuneConfig(**{**values, **changes})


def test_a_cached_teacher_output_equals_a_fresh_one_and_is_never_computed_twice(teachers, shared_data, tmp_path,
                                                                                monkeypatch):
    task = get_task("glue/RTE")
    examples = task.read(shared_data / "glue/RTE", "dev")[:12]
    first = TaskTeacher(teachers / "rte", task, 48)
    first.attach_cache(tmp_path / CACHE_FILE)
    cached = first.outputs(examples + examples[:3])  # a repeated input is computed once
    assert len((tmp_path / CACHE_FILE).read_text().splitlines()) == 12
    np.testing.assert_allclose(cached[:12], first.fresh_outputs(examples), rtol=1e-5, atol=1e-6)
    again = TaskTeacher(teachers / "rte", task, 48)
    again.attach_cache(tmp_path / CACHE_FILE)
    monkeypatch.setattr(again, "fresh_outputs", lambda _: pytest.fail("a cached output was computed again"))
    np.testing.assert_array_equal(again.outputs(examples), cached[:12])


def test_the_teacher_outputs_come_in_the_tasks_label_order(teachers, shared_data):
    """A teacher naming RTE's classes in the other order: its columns are swapped back."""
    task = get_task("glue/RTE")
    examples = task.read(shared_data / "glue/RTE", "dev")[:6]
    reversed_teacher = TaskTeacher(teachers / "rte-reversed", task, 48)
    from bort.checkpoint import load_classifier
    from bort.tasks.encode import model_outputs
    from bort.tokenizer import load_tokenizer

    raw = model_outputs(load_classifier(teachers / "rte-reversed"), load_tokenizer(teachers / "rte-reversed"),
                        examples, 48)
    np.testing.assert_allclose(reversed_teacher.outputs(examples), raw[:, ::-1], rtol=1e-6)


def test_the_recipes_batch_loss_is_the_mix_on_the_teachers_outputs(teachers, shared_data, tmp_path):
    run = FineTuning(_config(teachers, shared_data, tmp_path / "run", alpha=0.6, temperature=3.0), show_progress=False)
    run.setup()
    try:
        rows = list(range(8))
        batch = collate(run.enc_train, rows, run.tokenizer.pad_token_id)
        run.model.eval()
        with torch.no_grad():
            got = float(run.batch_loss(batch, rows))
            student = run.model(**batch).logits
        teacher = torch.from_numpy(TaskTeacher(teachers / "rte", run.task, 48).fresh_outputs(run.train_inputs[:8]))
        expected = distillation_loss(student, teacher, run.labels[rows], torch.ones(8, dtype=torch.bool), 0.6, 3.0,
                                     regression=False)
        assert got == pytest.approx(float(expected), rel=1e-5)
        # α = 0 leaves the task's own loss: Hugging Face's cross-entropy on the gold labels.
        run.cfg.alpha = 0.0
        with torch.no_grad():
            assert float(run.batch_loss(batch, rows)) == pytest.approx(
                float(run.model(**batch, labels=run.labels[rows]).loss), rel=1e-5)
    finally:
        run.run_dir.release()


def test_augmented_copies_carry_the_teachers_outputs_and_no_gold_label(teachers, shared_data, tmp_path):
    cfg = _config(teachers, shared_data, tmp_path / "run", augment=2, phi="word-dropout", phi_fraction=0.2)
    result = finetune(cfg, show_progress=False)
    made = result["augmented"]["copies"]
    assert 32 < made <= 64 and result["train_examples"] == 32
    run = FineTuning(cfg, show_progress=False)  # the finished run, read back: nothing is computed again
    run.setup()
    try:
        copies = run.train_inputs[32:]
        assert len(copies) == made and not bool(run.has_gold[32:].any()) and bool(run.has_gold[:32].all())
        originals = {(ex.text_a, ex.text_b) for ex in run.train_set}
        assert all((ex.text_a, ex.text_b) not in originals for ex in copies)
        assert all(ex.label is None for ex in copies)
        fresh = TaskTeacher(teachers / "rte", run.task, 48).fresh_outputs(copies)
        np.testing.assert_allclose(run.soft[32:].numpy(), fresh, rtol=1e-5, atol=1e-6)
        keys = {json.loads(line)["key"] for line in (Path(cfg.out) / CACHE_FILE).read_text().splitlines()}
        assert keys == {text_key(ex) for ex in run.train_inputs}
    finally:
        run.run_dir.release()


def test_augmentation_stopped_part_way_continues_to_the_same_copies(teachers, shared_data, tmp_path):
    task = get_task("glue/RTE")
    train = task.read(shared_data / "glue/RTE", "train")[:20]
    whole, _ = augmented_inputs(train, 3, "word-swap", 0.2, None, 7, tmp_path / "whole.jsonl", show_progress=False)
    lines = (tmp_path / "whole.jsonl").read_text().splitlines()
    torn = "\n".join(lines[:8]) + "\n" + lines[8][: len(lines[8]) // 2]  # killed while writing the ninth record
    (tmp_path / "torn.jsonl").write_text(torn)
    resumed, summary = augmented_inputs(train, 3, "word-swap", 0.2, None, 7, tmp_path / "torn.jsonl",
                                        show_progress=False)
    assert [(e.uid, e.text_a, e.text_b) for e in resumed] == [(e.uid, e.text_a, e.text_b) for e in whole]
    assert summary["copies"] == len(whole) and 20 < len(whole) <= 60


def test_distillation_pays_on_a_task_the_gold_labels_alone_cannot_teach(teachers, shared_data, tmp_path):
    """With α = 1 the student learns only what the teacher says: it agrees with the teacher on dev far more often
    than the plain student, which never saw the teacher."""
    from bort.checkpoint import load_classifier
    from bort.tasks.encode import model_outputs
    from bort.tokenizer import load_tokenizer

    common = dict(epochs=4, patience=4, max_train_examples=96, lr=3e-3)
    distilled = _config(teachers, shared_data, tmp_path / "kd", **common, alpha=1.0, temperature=1.0)
    plain = _config(teachers, shared_data, tmp_path / "plain", **{**common, "teacher": None})
    finetune(distilled, show_progress=False), finetune(plain, show_progress=False)
    task = get_task("glue/RTE")
    dev = task.read(shared_data / "glue/RTE", "dev")
    said = TaskTeacher(teachers / "rte", task, 48).fresh_outputs(dev).argmax(-1)
    agree = {}
    for name, out in (("kd", distilled.out), ("plain", plain.out)):
        outputs = model_outputs(load_classifier(out), load_tokenizer(out), dev, 48)
        agree[name] = float(np.mean(outputs.argmax(-1) == said))
    assert agree["kd"] > agree["plain"] + 0.05, agree


@pytest.mark.parametrize("teacher, fragment", [
    ("cb", "predicts 3 labels; glue/RTE needs 2"),
    ("regressor", "predicts 1 labels; glue/RTE needs 2"),
    ("student", "has no classification head"),
    ("other-vocab", "its embedding has 1000 rows"),
    ("qnli", "was fine-tuned on glue/QNLI (its finetune_config.json); glue/RTE needs a model fine-tuned on glue/RTE"),
])
def test_a_teacher_that_does_not_fit_is_one_line_and_nothing_is_written(teachers, shared_data, tmp_path, capsys,
                                                                        teacher, fragment):
    out = tmp_path / "out"
    code = main(["finetune", "--model", str(teachers / "student"), "--task", "glue/RTE", "--data",
                 str(shared_data / "glue/RTE"), "--out", str(out), "--teacher", str(teachers / teacher),
                 "--epochs", "1", "--max-train-examples", "8", "--max-len", "32"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("teacher, task", [("rte-typed", "glue/RTE"), ("rte-superglue", "glue/RTE"),
                                           ("mnli", "glue/MNLI-mm"), ("qnli", "custom")])
def test_a_teacher_fine_tuned_on_the_tasks_own_data_under_another_name_is_accepted(teachers, teacher, task):
    """The saved name is compared by the data it trained on: an alias or another case, RTE in either benchmark,
    MNLI-m's model for MNLI-mm (one training set); a custom task cannot be compared and is never refused."""
    from bort.finetune.distil import TaskTeacher
    from bort.tasks.custom import CustomTaskOptions, custom_task

    spec = get_task(task) if task != "custom" else custom_task(CustomTaskOptions(), ("entailment", "not_entailment"))
    assert TaskTeacher(teachers / teacher, spec, 32).model.config.num_labels == spec.num_labels


def test_a_regression_teacher_distils_a_regressor(teachers, shared_data, tmp_path):
    shutil.copytree(shared_data / "glue/STS-B", tmp_path / "STS-B")
    result = finetune(FinetuneConfig(model=str(teachers / "student"), task="glue/STS-B", data=str(tmp_path / "STS-B"),
                                     out=str(tmp_path / "run"), teacher=str(teachers / "regressor"), epochs=1,
                                     batch_size=8, lr=1e-3, max_len=48, max_train_examples=24, seed=0),
                      show_progress=False)
    assert result["teacher"] == str(teachers / "regressor") and "pearson" in result["dev"]


def test_unlabeled_inputs_join_the_training_set_with_the_teachers_outputs_alone(teachers, shared_data, tmp_path):
    table = tmp_path / "in-domain.csv"
    table.write_text("premise,hypothesis\nThe cat sat.,A cat sat.\n,\nDogs bark loudly.,Dogs are silent.\n")
    cfg = _config(teachers, shared_data, tmp_path / "run", unlabeled=[str(table)], text_column="premise",
                  text_pair_column="hypothesis")
    run = FineTuning(cfg, show_progress=False)
    run.setup()
    try:
        extra = run.train_inputs[32:]
        assert [(ex.text_a, ex.text_b) for ex in extra] == [("The cat sat.", "A cat sat."),
                                                             ("Dogs bark loudly.", "Dogs are silent.")]
        assert not bool(run.has_gold[32:].any())
        np.testing.assert_allclose(run.soft[32:].numpy(),
                                   TaskTeacher(teachers / "rte", run.task, 48).fresh_outputs(extra), rtol=1e-5)
    finally:
        run.run_dir.release()


@pytest.mark.parametrize("content, suffix, fragment", [
    ("text,text_pair\n , \n,\n", ".csv", "holds no text"),
    ("one line\n", ".txt", "a pair task's inputs need two columns"),
    ("a,b\nx,y\n", ".csv", "no column 'text'"),
])
def test_unlabeled_files_that_cannot_serve_are_one_line(teachers, shared_data, tmp_path, capsys, content, suffix,
                                                        fragment):
    path = tmp_path / f"unlabeled{suffix}"
    path.write_text(content)
    code = main(["finetune", "--model", str(teachers / "student"), "--task", "glue/RTE", "--data",
                 str(shared_data / "glue/RTE"), "--out", str(tmp_path / "out"), "--teacher", str(teachers / "rte"),
                 "--unlabeled", str(path), "--epochs", "1", "--max-train-examples", "8", "--max-len", "32"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and fragment in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("side_by_side", [["--workers", "2"], ["--ray", "local"]])
def test_agora_side_by_side_under_torchrun_is_refused_in_one_line(teachers, shared_data, tmp_path, capsys,
                                                                  monkeypatch, side_by_side):
    """Under torchrun each training is spread over the processes; trainings side by side as well would be two
    ways of using the same cores at once."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    code = main(["finetune", "--method", "agora", "--model", str(teachers / "student"), "--socrates",
                 str(teachers / "rte"), "--task", "glue/RTE", "--data", str(shared_data / "glue/RTE"), "--out",
                 str(tmp_path / "out"), "--max-train-examples", "8", "--max-len", "32", *side_by_side])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--workers and --ray run trainings side by side" in err[0], err
    assert not (tmp_path / "out").exists()


def test_the_pipeline_distils_plain_students_and_keeps_the_teachers_run_its_own(teachers, shared_data, tmp_path):
    """A task with copies: the student gets the teacher and the copies, the teacher's own run neither; an Agora
    task's student is not distilled unless asked (each of its trainings would label its data again)."""
    from bort.pipeline.config import parse_pipeline
    from bort.pipeline.stages import plan

    common = {"task": "glue/RTE", "data": str(shared_data / "glue/RTE"), "max_train_examples": 8}
    raw = {"out": str(tmp_path / "run"), "teacher": str(teachers / "student"),
           "tasks": [{"name": "rte", **common, "augment": 2, "phi": "word-swap"},
                     {"name": "rte-agora", **common, "method": "agora"},
                     {"name": "rte-agora-kd", **common, "method": "agora", "task_distil": True},
                     {"name": "rte-gold", **common, "task_distil": False}]}
    stages = {s.name: s.config for s in plan(parse_pipeline(raw, tmp_path / "p.yaml"))}
    student, teacher = stages["task:rte:student"], stages["task:rte:teacher"]
    assert student.teacher == str(tmp_path / "run" / "tasks" / "rte" / "teacher") and student.augment == 2
    assert teacher.teacher is None and teacher.augment == 0 and teacher.phi == "mlm-replace"
    assert stages["task:rte-agora:student"].teacher is None
    assert stages["task:rte-agora-kd:student"].teacher == str(tmp_path / "run" / "tasks" / "rte-agora-kd" / "teacher")
    assert stages["task:rte-gold:student"].teacher is None

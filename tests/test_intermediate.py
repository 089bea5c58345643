"""Intermediate distillation: the hidden-state MSE and MiniLMv2's attention relations, checked by hand, and a
KD run from an extracted student that records them and, re-run, continues exactly."""

from __future__ import annotations

import json
import math

import pytest
import torch

from bort.architecture import Arch
from bort.architecture.build import build_roberta
from bort.checkpoint import save_model_dir
from bort.distill.intermediate import attention_relation_loss, hidden_state_loss, relation_heads
from bort.distill.layer_map import HiddenProjection, uniform_layer_map
from bort.pretrain.config import PretrainConfig
from bort.pretrain.trainer import pretrain


def test_hidden_state_loss_is_the_mean_squared_error_over_real_tokens_and_mapped_layers():
    generator = torch.Generator().manual_seed(0)
    student = tuple(torch.randn(2, 3, 4, generator=generator) for _ in range(3))  # embeddings + 2 layers
    teacher = tuple(torch.randn(2, 3, 4, generator=generator) for _ in range(5))  # embeddings + 4 layers
    real = torch.tensor([[True, True, False], [True, True, True]])
    by_hand = 0.0
    for j, t in enumerate([1, 3]):
        squared = [((student[j + 1][b, s] - teacher[t + 1][b, s]) ** 2).mean() for b in range(2) for s in range(3)
                   if real[b, s]]
        by_hand += sum(squared) / len(squared)
    assert float(hidden_state_loss(student, teacher, [1, 3], real)) == pytest.approx(float(by_hand) / 2, rel=1e-6)


def test_the_projection_of_an_extracted_student_starts_as_its_kept_channels():
    projection = HiddenProjection(2, 4, channels=[1, 3])
    out = projection(torch.tensor([[5.0, 7.0]]))
    assert out.tolist() == [[0.0, 5.0, 0.0, 7.0]]


def relation_by_hand(x: torch.Tensor, heads: int, real: torch.Tensor) -> list:
    """softmax(x_r x_rᵀ/√d) row by row with plain Python sums: [b][r][query][key]."""
    b_size, s_size, width = x.shape
    d = width // heads
    out = []
    for b in range(b_size):
        per_head = []
        for r in range(heads):
            rows = []
            for q in range(s_size):
                scores = [sum(float(x[b, q, r * d + i] * x[b, k, r * d + i]) for i in range(d)) / math.sqrt(d)
                          if real[b, k] else -math.inf for k in range(s_size)]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                rows.append([w / sum(weights) for w in weights])
            per_head.append(rows)
        out.append(per_head)
    return out


def test_attention_relation_loss_is_minilmv2s_kl_computed_by_hand():
    generator = torch.Generator().manual_seed(1)
    student = tuple(torch.randn(1, 3, 4, generator=generator) for _ in range(3))  # 2 relation heads of 2
    teacher = tuple(torch.randn(1, 3, 6, generator=generator) for _ in range(3))  # 2 relation heads of 3
    real = torch.tensor([[True, True, False]])
    expected = 0.0
    for s, t in zip(student, teacher):
        ps, pt = relation_by_hand(s, 2, real), relation_by_hand(t, 2, real)
        for q in (0, 1):
            expected += sum(sum(pt[0][r][q][k] * math.log(pt[0][r][q][k] / ps[0][r][q][k]) for k in (0, 1))
                            for r in (0, 1)) / 2
    expected /= 2  # two real query tokens
    assert float(attention_relation_loss(student, teacher, real, 2)) == pytest.approx(expected, rel=1e-5)
    assert float(attention_relation_loss(teacher, teacher, real, 2)) == pytest.approx(0.0, abs=1e-6)


def test_layer_maps_and_relation_heads():
    assert uniform_layer_map(3, 6) == [1, 3, 5]
    assert uniform_layer_map(4, 24) == [5, 11, 17, 23]
    assert relation_heads(8, 12) == 4


@pytest.fixture(scope="module")
def kd_inputs(tmp_path_factory, shared_data):
    """A tiny masked-LM teacher, a student extracted from it (narrower, shallower), the novel's first 200 kB."""
    from bort.extract.config import ExtractConfig
    from bort.extract.extractor import extract
    from bort.tokenizer import load_tokenizer

    root = tmp_path_factory.mktemp("kd-inputs")
    save_model_dir(build_roberta(Arch(2, 4, 32, 48), head="mlm", seed=0), load_tokenizer(), root / "teacher")
    (root / "text.txt").write_bytes((shared_data / "text" / "gutenberg" / "1342-0.txt").read_bytes()[:200_000])
    extract(ExtractConfig(teacher=str(root / "teacher"), arch=[1, 2, 16, 24], corpus=[str(root / "text.txt")],
                          out=str(root / "student"), seq_len=32, batch_size=2, calibration_batches=2),
            show_progress=False)
    return root


def kd_config(root, out, **overrides):
    values = dict(mode="kd", teacher=str(root / "teacher"), init=str(root / "student"), corpus=[str(root / "text.txt")],
                  out=str(out), seq_len=32, batch_size=4, max_steps=6, lr=1e-3, warmup_steps=2, save_every=3,
                  eval_every=3, val_batches=2, log_every=1, cache_dir=str(root / "cache"), seed=0, dropout=0.1,
                  hidden_weight=1.0, attention_weight=2.0)
    return PretrainConfig(**{**values, **overrides})


def test_kd_from_an_extracted_student_records_every_loss_part_and_resumes_exactly(kd_inputs, tmp_path):
    straight = tmp_path / "straight"
    pretrain(kd_config(kd_inputs, straight), show_progress=False)
    records = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    for r in records:
        total = 0.1 * r["mlm_loss"] + 0.5 * r["kd_loss"] + 1.0 * r["hidden_loss"] + 2.0 * r["attention_loss"]
        assert r["hidden_loss"] > 0 and r["attention_loss"] > 0 and r["loss"] == pytest.approx(total, rel=1e-4)
    split = tmp_path / "split"
    pretrain(kd_config(kd_inputs, split, stop_after=3), show_progress=False)
    pretrain(kd_config(kd_inputs, split), show_progress=False)  # the same command again: it continues
    assert (split / "metrics.jsonl").read_text().count("\n") == 6
    straight_losses = [r["loss"] for r in records]
    assert [json.loads(line)["loss"] for line in (split / "metrics.jsonl").read_text().splitlines()] == straight_losses
    from safetensors.torch import load_file

    for name in ("checkpoints/step-0000006/projection.safetensors", "model.safetensors"):
        a, b = load_file(str(straight / name)), load_file(str(split / name))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    # the distilled student still knows which teacher layers and channels it came from (task distillation maps
    # to them in turn)
    assert (straight / "extraction.json").read_text() == (kd_inputs / "student" / "extraction.json").read_text()


def test_an_extracted_student_maps_to_the_layers_and_channels_it_was_cut_from(kd_inputs, tmp_path):
    from bort.checkpoint import load_config
    from bort.extract.selection import read_selection
    from bort.pretrain.setup import intermediate_terms

    cfg = kd_config(kd_inputs, tmp_path / "x")
    teacher, student = load_config(kd_inputs / "teacher"), load_config(kd_inputs / "student")
    selection = read_selection(kd_inputs / "student", Arch(2, 4, 32, 48))
    terms, projection = intermediate_terms(cfg, student, teacher)
    assert terms.layer_map == selection.layers and terms.relation_heads == 2
    expected = torch.zeros(32, 16)
    expected[selection.channels, torch.arange(16)] = 1.0
    assert torch.equal(projection.linear.weight, expected)
    # cut from a teacher of another shape: the record does not apply, layers are spaced evenly
    other = load_config(kd_inputs / "teacher")
    other.num_hidden_layers = 4
    terms, _ = intermediate_terms(cfg, student, other)
    assert terms.layer_map == uniform_layer_map(1, 4) == [3]


def test_the_intermediate_terms_need_a_teacher():
    from bort.errors import BortError

    with pytest.raises(BortError, match="--mode kd"):
        PretrainConfig(mode="mlm", arch=[1, 2, 32, 64], corpus=["x"], out="y", hidden_weight=1.0)


def test_intermediate_terms_under_gradient_accumulation_equal_one_big_batch(kd_inputs, tmp_path):
    """Each term is a sum over a micro-batch's real tokens divided by the global batch's count: four
    micro-batches must give the one-batch gradient, hence the same weights."""
    from safetensors.torch import load_file

    pretrain(kd_config(kd_inputs, tmp_path / "one", max_steps=3, dropout=0.0), show_progress=False)
    pretrain(kd_config(kd_inputs, tmp_path / "acc", max_steps=3, dropout=0.0, grad_accum=4), show_progress=False)
    a, b = load_file(str(tmp_path / "one" / "model.safetensors")), \
        load_file(str(tmp_path / "acc" / "model.safetensors"))
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5

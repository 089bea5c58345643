"""Lemma 2 against the built models' numel, part by part; Lemma 1 against a hand count."""

import random

import pytest
import torch
from transformers import BertConfig

from bort.architecture import Arch, Vocab, count_params, flops_per_sequence
from bort.architecture.build import build_model, build_roberta, numel
from bort.architecture.hf_config import roberta_config


def _random_archs(n, seed=0):
    rng = random.Random(seed)
    archs = []
    while len(archs) < n:
        heads = rng.choice([1, 2, 3, 4, 6, 8])
        archs.append(Arch(rng.randint(1, 5), heads, heads * rng.randint(1, 12), rng.randint(1, 97)))
    return archs


@pytest.mark.parametrize("arch", _random_archs(24))
def test_count_equals_numel_of_each_part(arch):
    vocab = Vocab(size=211, positions=67, type_vocab=2)
    expected = count_params(arch, vocab)
    model = build_roberta(arch, vocab, head="pooler")
    assert numel(model.embeddings) == expected.embeddings
    assert numel(model.encoder) == expected.encoder
    assert numel(model.pooler) == expected.pooler
    assert numel(model) == expected.total + expected.pooler

    mlm = build_roberta(arch, vocab, head="mlm")
    assert numel(mlm.lm_head) - vocab.size * arch.hidden == expected.mlm_head  # decoder weight is tied
    assert numel(mlm) == expected.total + expected.mlm_head


def test_bert_layout_counts_too():
    arch = Arch(3, 2, 24, 40)
    vocab = Vocab(size=100, positions=50, type_vocab=2)
    config = BertConfig(vocab_size=100, max_position_embeddings=50, type_vocab_size=2, num_hidden_layers=3,
                        num_attention_heads=2, hidden_size=24, intermediate_size=40)
    expected = count_params(arch, vocab)
    assert numel(build_model(config, head="pooler")) == expected.total + expected.pooler
    assert numel(build_model(config, head="mlm")) == expected.total + expected.mlm_head


@pytest.mark.parametrize(
    "arch, total_with_pooler",
    [
        (Arch(24, 16, 1024, 4096), 355_359_744),  # RoBERTa-large
        (Arch(12, 12, 768, 3072), 124_645_632),  # RoBERTa-base
        (Arch(4, 8, 1024, 768), 76_158_976),  # Bort as released
    ],
)
def test_full_size_models_on_meta_device(arch, total_with_pooler):
    expected = count_params(arch)
    assert expected.total + expected.pooler == total_with_pooler
    with torch.device("meta"):  # shapes only: no memory for the weights
        model = build_model(roberta_config(arch), head="pooler")
    assert numel(model) == total_with_pooler


def test_bort_breakdown_matches_the_issue():
    p = count_params(Arch(4, 8, 1024, 768))
    assert (p.embeddings, p.encoder, p.total, p.pooler, p.mlm_head) \
        == (52_000_768, 23_108_608, 75_109_376, 1_049_600, 1_101_913)
    assert p.effective == p.encoder


def test_count_does_not_depend_on_heads():
    assert count_params(Arch(4, 4, 512, 1024)) == count_params(Arch(4, 16, 512, 1024))


def test_flops_hand_computed():
    # D=2, H=4, I=6, n=3, c_g=8: per layer 8·3·16 + 4·9·4 + 4·3·4·6 + 8·3·6 = 384 + 144 + 288 + 144 = 960
    assert flops_per_sequence(Arch(2, 2, 4, 6), 3, gelu_flops=8) == 2 * 960 + 2 * 16


def test_flops_grow_quadratically_in_length_through_attention():
    arch = Arch(4, 8, 1024, 768)
    f128, f256 = flops_per_sequence(arch, 128, gelu_flops=0), flops_per_sequence(arch, 256, gelu_flops=0)
    attention_128 = 4 * 128**2 * 1024 * 4
    assert f256 - 2 * f128 == 2 * attention_128 - 2 * 1024**2  # linear parts double, attention quadruples

import time

import pytest

from bort.architecture import Arch, flops_per_sequence
from bort.architecture.build import build_roberta
from bort.architecture.counting import Vocab
from bort.errors import BortError
from bort.inference.latency import LatencyProtocol, fixed_input, measure_latency, model_latency, summarise


def test_summary_statistics_against_hand_values():
    lat = summarise([5.0, 1.0, 3.0, 2.0, 4.0], LatencyProtocol(), None)
    assert (lat.median_ms, lat.min_ms, lat.mean_ms) == (3.0, 1.0, 3.0)
    assert lat.p10_ms == pytest.approx(1.4) and lat.p90_ms == pytest.approx(4.6)
    assert lat.spread == pytest.approx((4.6 - 1.4) / 3.0)
    assert lat.samples_ms == (5.0, 1.0, 3.0, 2.0, 4.0)  # in the order they were taken


def test_measure_counts_runs_and_times_the_call():
    calls = []

    def forward():
        calls.append(1)
        time.sleep(0.005)

    lat = measure_latency(forward, LatencyProtocol(warmup=2, repeats=4))
    assert len(calls) == 6 and len(lat.samples_ms) == 4
    assert lat.min_ms >= 5.0  # a sleep of 5 ms cannot take less
    assert lat.device.device == "cpu" and lat.device.torch


def test_min_seconds_extends_fast_runs():
    lat = measure_latency(lambda: None, LatencyProtocol(warmup=0, repeats=3, min_seconds=0.01, max_repeats=50))
    assert 3 <= len(lat.samples_ms) <= 50


def test_threads_are_set_and_restored():
    import torch

    before = torch.get_num_threads()
    seen = []
    measure_latency(lambda: seen.append(torch.get_num_threads()), LatencyProtocol(threads=1, warmup=0, repeats=1))
    assert seen == [1] and torch.get_num_threads() == before
    assert measure_latency(lambda: None, LatencyProtocol(threads=1, warmup=0, repeats=1)).device.threads == 1


@pytest.mark.parametrize("field, value", [("repeats", 0), ("batch_size", 0), ("seq_len", 0), ("warmup", -1), ("threads", 0)])
def test_protocol_validation(field, value):
    with pytest.raises(BortError, match=field):
        LatencyProtocol(**{field: value})


def test_fixed_input_is_seeded_and_avoids_special_ids():
    p = LatencyProtocol(batch_size=2, seq_len=7, seed=3)
    a, b = fixed_input(100, p), fixed_input(100, p)
    assert a["input_ids"].shape == (2, 7) and a["input_ids"].equal(b["input_ids"])
    assert int(a["input_ids"].min()) >= 4 and a["attention_mask"].all()


def test_sequence_longer_than_positions_is_refused():
    model = build_roberta(Arch(1, 2, 8, 8), Vocab(50, 34, 1))
    with pytest.raises(BortError, match="usable positions"):
        model_latency(model, LatencyProtocol(seq_len=33, repeats=1))


def test_latency_ordering_follows_flops_for_clearly_different_models():
    vocab = Vocab(1000, 130, 1)
    small, large = Arch(1, 2, 64, 64), Arch(6, 8, 512, 2048)
    assert flops_per_sequence(large, 128) > 100 * flops_per_sequence(small, 128)
    protocol = LatencyProtocol(seq_len=128, warmup=1, repeats=5, threads=1)
    t_small = model_latency(build_roberta(small, vocab), protocol).median_ms
    t_large = model_latency(build_roberta(large, vocab), protocol).median_ms
    assert t_large > t_small

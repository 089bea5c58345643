import time

import pytest

from bort.architecture import Arch, flops_per_sequence
from bort.architecture.build import build_roberta
from bort.architecture.counting import Vocab
from bort.errors import BortError
from bort.measure.latency import LatencyProtocol, fixed_input, measure_latency, model_latency, summarise


def test_summary_statistics_against_hand_values():
    protocol = LatencyProtocol(seq_len=7)
    lat = summarise([5.0, 1.0, 3.0, 2.0, 4.0], protocol, None)
    assert (lat.median_ms, lat.min_ms, lat.mean_ms) == (3.0, 1.0, 3.0)
    assert lat.p10_ms == pytest.approx(1.4) and lat.p90_ms == pytest.approx(4.6)
    assert lat.std_ms == pytest.approx(2 ** 0.5)  # population standard deviation
    assert lat.spread == pytest.approx((4.6 - 1.4) / 3.0)
    assert lat.samples_ms == (5.0, 1.0, 3.0, 2.0, 4.0)  # in the order they were taken
    assert lat.protocol is protocol
    as_dict = lat.as_dict()
    assert as_dict["samples_ms"] == [5.0, 1.0, 3.0, 2.0, 4.0] and as_dict["spread"] == pytest.approx(3.2 / 3)
    assert as_dict["median_ms"] == 3.0 and as_dict["protocol"]["seq_len"] == 7
    two = summarise([2.0, 1.0], protocol, None)  # quantiles interpolate between the two samples
    assert (two.p10_ms, two.median_ms, two.p90_ms) == (pytest.approx(1.1), 1.5, pytest.approx(1.9))
    one = summarise([4.0], protocol, None)
    assert (one.p10_ms, one.p90_ms, one.spread) == (4.0, 4.0, 0.0)


def test_measure_reads_the_clock_around_each_call(monkeypatch):
    """With a fake clock: each sample is the clock's advance during one call, in milliseconds."""
    from bort.measure import latency

    now = [100.0]
    monkeypatch.setattr(latency.time, "perf_counter", lambda: now[0])
    durations = iter([0.5, 0.003, 0.002, 0.004])  # the warm-up run, then three timed runs (seconds)

    def forward():
        now[0] += next(durations)

    protocol = LatencyProtocol(warmup_runs=1, repeats=3)
    lat = measure_latency(forward, protocol)
    assert lat.samples_ms == pytest.approx((3.0, 2.0, 4.0)) and lat.median_ms == pytest.approx(3.0)
    assert lat.protocol is protocol


def test_measure_counts_runs_and_times_the_call():
    calls = []

    def forward():
        calls.append(1)
        time.sleep(0.005)

    lat = measure_latency(forward, LatencyProtocol(warmup_runs=2, repeats=4))
    assert len(calls) == 6 and len(lat.samples_ms) == 4
    assert lat.min_ms >= 5.0  # a sleep of 5 ms cannot take less
    assert lat.device.device == "cpu" and lat.device.torch


def test_min_seconds_extends_fast_runs():
    def forward():
        time.sleep(0.002)

    lat = measure_latency(forward, LatencyProtocol(warmup_runs=0, repeats=3, min_seconds=0.05, max_repeats=1000))
    # kept going until 50 ms were timed, then stopped
    assert sum(lat.samples_ms) >= 50.0 and 3 < len(lat.samples_ms) <= 26
    assert len(measure_latency(forward, LatencyProtocol(warmup_runs=0, repeats=3)).samples_ms) == 3
    capped = measure_latency(forward, LatencyProtocol(warmup_runs=0, repeats=3, min_seconds=10.0, max_repeats=8))
    assert len(capped.samples_ms) == 8


def test_model_latency_feeds_the_protocols_shape():
    model = build_roberta(Arch(1, 2, 8, 8), Vocab(50, 70, 1))
    seen = []
    model.register_forward_pre_hook(lambda module, args, kwargs: seen.append(tuple(kwargs["input_ids"].shape)),
                                    with_kwargs=True)
    model_latency(model, LatencyProtocol(batch_size=3, seq_len=37, warmup_runs=1, repeats=2))
    assert seen == [(3, 37)] * 3


def test_threads_are_set_and_restored():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        measure_latency(lambda: seen.append(torch.get_num_threads()),
                        LatencyProtocol(threads=1, warmup_runs=0, repeats=1))
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert measure_latency(lambda: None, LatencyProtocol(threads=1, warmup_runs=0, repeats=1)).device.threads == 1


@pytest.mark.parametrize("field, value", [("repeats", 0), ("batch_size", 0), ("seq_len", 0), ("warmup_runs", -1),
                                          ("threads", 0)])
def test_protocol_validation(field, value):
    with pytest.raises(BortError, match=field):
        LatencyProtocol(**{field: value})


def test_fixed_input_is_seeded_and_avoids_special_ids():
    p = LatencyProtocol(batch_size=2, seq_len=7, seed=3)
    a, b = fixed_input(100, p), fixed_input(100, p)
    assert a["input_ids"].shape == (2, 7) and a["input_ids"].equal(b["input_ids"])
    assert int(a["input_ids"].min()) >= 4 and a["attention_mask"].all()
    assert fixed_input(5, p)["input_ids"].eq(4).all()  # vocabulary 5: only id 4 is ordinary
    tiny = fixed_input(4, LatencyProtocol(batch_size=4, seq_len=32))["input_ids"]  # no ordinary ids: all of 0..3
    assert set(tiny.unique().tolist()) == {0, 1, 2, 3}


def test_sequence_longer_than_positions_is_refused():
    model = build_roberta(Arch(1, 2, 8, 8), Vocab(50, 34, 1))
    with pytest.raises(BortError, match="usable positions"):
        model_latency(model, LatencyProtocol(seq_len=33, repeats=1))


def test_latency_ordering_follows_flops_for_clearly_different_models():
    vocab = Vocab(1000, 130, 1)
    small, large = Arch(1, 2, 64, 64), Arch(6, 8, 512, 2048)
    assert flops_per_sequence(large, 128) > 100 * flops_per_sequence(small, 128)
    protocol = LatencyProtocol(seq_len=128, warmup_runs=1, repeats=5, threads=1)
    t_small = model_latency(build_roberta(small, vocab), protocol).median_ms
    t_large = model_latency(build_roberta(large, vocab), protocol).median_ms
    assert t_large > t_small

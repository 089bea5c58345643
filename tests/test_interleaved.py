"""The noise-proof latency protocol: per-round ratios, their bootstrap interval, interleaved rounds, the load check.

Timings are synthetic where bias is the question: a fake clock advances by each model's true time
times the machine's slowdown at that moment, with bursts of load injected at random.
"""

import random
import statistics
import subprocess
import sys

import pytest

from bort.errors import BortError
from bort.measure import interleaved, load
from bort.measure.latency import LatencyProtocol, measure_latency
from bort.measure.ratio import median_interval, round_ratio


class NoisyMachine:
    """A fake clock: a forward pass of true length ``ms`` takes ``ms`` × the slowdown at that moment, plus
    1% jitter. Bursts (another process taking the CPU) start at random and slow everything 1.5–4× for
    5–60 ms of fake time."""

    def __init__(self, seed: int, burst_rate: float = 0.02, jitter: float = 0.01):
        self.rng = random.Random(seed)
        self.now = 0.0  # ms
        self.burst_until = -1.0
        self.burst_factor = 1.0
        self.burst_rate = burst_rate  # bursts starting per ms of fake time
        self.jitter = jitter

    def perf_counter(self) -> float:
        return self.now / 1e3

    def run(self, ms: float) -> None:
        if self.now > self.burst_until and self.rng.random() < self.burst_rate * ms:
            self.burst_until = self.now + self.rng.uniform(5, 60)
            self.burst_factor = self.rng.uniform(1.5, 4.0)
        slow = self.burst_factor if self.now <= self.burst_until else 1.0
        self.now += ms * slow * self.rng.gauss(1.0, self.jitter)

    def model(self, ms: float):
        return lambda: self.run(ms)


@pytest.fixture
def machine(monkeypatch):
    def make(seed: int, **kwargs) -> NoisyMachine:
        fake = NoisyMachine(seed, **kwargs)
        monkeypatch.setattr(interleaved.time, "perf_counter", fake.perf_counter)
        return fake
    return make


QUIET = dict(load_check=False, warmup_runs=1, block_ms=5.0)


def test_ratio_is_the_median_of_per_round_ratios_not_the_ratio_of_medians():
    a, b = [1.0, 10.0, 10.0], [1.0, 10.0, 1.0]  # a burst slowed both in round 2, only a in round 3
    r = round_ratio(a, b)
    assert r.median == 1.0  # per-round ratios 1, 1, 10
    assert statistics.median(a) / statistics.median(b) == 10.0  # what a ratio of medians would say
    assert r.rounds == 3 and r.low <= r.median <= r.high


def test_bootstrap_interval_is_repeatable_narrows_with_rounds_and_is_checked():
    rng = random.Random(0)
    few = [rng.gauss(2.0, 0.1) for _ in range(8)]
    many = few + [rng.gauss(2.0, 0.1) for _ in range(120)]
    assert median_interval(few) == median_interval(few)  # seeded: the same interval every time
    assert median_interval(many).relative_half_width < median_interval(few).relative_half_width
    assert median_interval([5.0]).low == median_interval([5.0]).high == 5.0
    with pytest.raises(BortError, match="2 rounds of one model against 1"):
        round_ratio([1.0, 2.0], [1.0])
    with pytest.raises(BortError, match="zero or negative"):
        round_ratio([1.0], [0.0])


def test_interleaved_ratio_is_unbiased_under_bursts_and_sequential_timing_is_not(machine):
    """Over many noisy machines, the interleaved estimate of a 3× ratio averages 3 within 1.5%, and its 95%
    interval covers 3 in most runs; timing A fully and then B (the old protocol) on the same machines is off."""
    truth = 3.0
    estimates, covered, sequential_errors = [], 0, []
    for seed in range(60):
        fake = machine(seed)
        rounds = interleaved.time_interleaved({"A": fake.model(3.0), "B": fake.model(1.0)},
                                              LatencyProtocol(repeats=15, max_rounds=15, **QUIET), reference="B")
        ratio = rounds.ratio("A", "B")
        estimates.append(ratio.median)
        covered += ratio.contains(truth)
        # the same kind of machine, timed one model after the other (measure_latency reads the same clock:
        # the fake replaces time.perf_counter itself)
        fake = machine(1000 + seed)
        a = measure_latency(fake.model(3.0), LatencyProtocol(repeats=15, warmup_runs=1))
        b = measure_latency(fake.model(1.0), LatencyProtocol(repeats=15, warmup_runs=1))
        sequential_errors.append(abs(a.median_ms / b.median_ms - truth) / truth)
    assert statistics.fmean(estimates) == pytest.approx(truth, rel=0.015)
    assert max(abs(e - truth) / truth for e in estimates) < 0.1
    assert covered >= 0.85 * len(estimates)
    # the environment is noisy enough to matter: sequential ratios are often far off
    assert max(sequential_errors) > 0.3


def test_rounds_rotate_the_order_and_blocks_fill_block_ms(machine):
    fake = machine(0, burst_rate=0.0, jitter=0.0)
    calls = {"A": 0, "B": 0, "C": 0}

    def counted(name, ms):
        def forward():
            calls[name] += 1
            fake.run(ms)
        return forward

    rounds = interleaved.time_interleaved({"A": counted("A", 4.0), "B": counted("B", 1.0), "C": counted("C", 0.5)},
                                          LatencyProtocol(repeats=6, max_rounds=6, **{**QUIET, "block_ms": 8.0}),
                                          reference="A")
    # each round runs a model's whole block: warm-up + one calibrating pass + 6 rounds × its runs per block
    assert calls == {k: 1 + 1 + 6 * rounds.runs_per_block[k] for k in calls}
    assert rounds.order[:3] == [["A", "B", "C"], ["B", "C", "A"], ["C", "A", "B"]]
    expected = {"A": 2, "B": 8, "C": 16}  # ⌈8 ms / one pass⌉ (± 1 for the clock's float rounding)
    assert all(abs(rounds.runs_per_block[k] - v) <= 1 for k, v in expected.items())
    assert all(len(v) == rounds.rounds == 6 for v in rounds.rounds_ms.values())
    assert rounds.latency("C").median == pytest.approx(0.5)


def test_rounds_stop_when_precise_and_go_on_when_noisy(machine):
    fake = machine(0, burst_rate=0.0)
    protocol = LatencyProtocol(repeats=5, max_rounds=40, target_half_width=0.02, **QUIET)
    quiet = interleaved.time_interleaved({"A": fake.model(2.0), "B": fake.model(1.0)}, protocol, reference="B")
    assert quiet.stopped_by == "interval" and quiet.rounds == 5

    fake = machine(3, burst_rate=0.5)  # a burst almost every run: ratios scatter
    noisy = interleaved.time_interleaved({"A": fake.model(2.0), "B": fake.model(1.0)}, protocol, reference="B")
    assert noisy.rounds > 5 and noisy.stopped_by in ("interval", "max_rounds")
    capped = interleaved.time_interleaved({"A": fake.model(2.0), "B": fake.model(1.0)},
                                          LatencyProtocol(repeats=3, max_rounds=40, max_seconds=0.05, **QUIET),
                                          reference="B")
    assert capped.stopped_by in ("interval", "max_seconds") and capped.seconds < 0.2


def test_protocol_and_reference_are_checked():
    with pytest.raises(BortError, match="max_rounds"):
        LatencyProtocol(repeats=10, max_rounds=5)
    with pytest.raises(BortError, match="reference"):
        interleaved.time_interleaved({"A": lambda: None}, LatencyProtocol(**QUIET), reference="T")
    with pytest.raises(BortError, match="nothing to time"):
        interleaved.time_interleaved({}, LatencyProtocol(**QUIET))


def test_load_arithmetic_separates_others_from_ourselves_and_steal(monkeypatch):
    readings = iter([(100.0, 5.0), (103.0, 5.5)])  # 3 s busy and 0.5 s stolen across the CPUs
    own = iter([10.0, 11.0])  # 1 s of it was ours
    clock = iter([0.0, 2.0])  # over 2 s of wall time
    monkeypatch.setattr(load, "_cpu_jiffies", lambda: next(readings))
    monkeypatch.setattr(load, "_own_cpu_seconds", lambda: next(own))
    monkeypatch.setattr(load.time, "perf_counter", lambda: next(clock))
    measured = load.LoadMonitor().start().stop()
    assert measured.others == pytest.approx(1.0) and measured.steal == pytest.approx(0.25)
    assert measured.disturbed and "1.00 cores" in measured.describe()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the load check reads Linux's /proc/stat")
def test_load_monitor_sees_another_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"])
    try:
        seen = load.idle_check(1.0)
    finally:
        busy.wait()
    assert seen is not None and seen.others > 0.6 and seen.disturbed


def test_a_disturbed_timing_warns_in_one_line(machine):
    fake = machine(0, burst_rate=0.0)
    rounds = interleaved.time_interleaved({"A": fake.model(1.0)}, LatencyProtocol(repeats=2, max_rounds=2, **QUIET))
    assert rounds.load_warning() is None
    rounds.load_during = load.Load(others=1.2, steal=0.0, seconds=3.0)
    assert rounds.disturbed and "1.20 cores" in rounds.load_warning() and "\n" not in rounds.load_warning()

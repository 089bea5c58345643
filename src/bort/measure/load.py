"""Is anything else using the CPU while we time? Other processes' CPU time and the hypervisor's steal.

Linux's ``/proc/stat`` counts every CPU's busy and stolen time since boot; our own process's CPU time
comes from ``os.times``. Over a window, (all busy − ours) / wall time is how many cores other
processes took, and steal / wall time how many the hypervisor gave to other machines. Either above
a fraction of a core makes latencies measured in that window suspect.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

# How much of a core others may take before the timing is called disturbed.
BUSY_LIMIT_CORES = 0.25


def _cpu_jiffies() -> tuple[float, float] | None:
    """(busy, steal) seconds of all CPUs since boot; None where ``/proc/stat`` is unreadable (not Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [float(v) for v in fields[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice: already inside user and nice]
    user, nice, system, _idle, _iowait, irq, softirq = values[:7]
    steal = values[7] if len(values) > 7 else 0.0
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, steal / hz


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass(frozen=True)
class Load:
    """Cores taken by other processes (``others``) and by the hypervisor (``steal``) over ``seconds``."""

    others: float
    steal: float
    seconds: float

    @property
    def disturbed(self) -> bool:
        return self.others > BUSY_LIMIT_CORES or self.steal > BUSY_LIMIT_CORES

    def describe(self) -> str:
        return (f"other processes took {self.others:.2f} cores and the hypervisor stole {self.steal:.2f} over "
                f"{self.seconds:.1f} s")

    def as_dict(self) -> dict:
        return {**asdict(self), "disturbed": self.disturbed}


class LoadMonitor:
    """Measures the load between :meth:`start` and :meth:`stop`; ``None`` where the OS does not tell."""

    def __init__(self) -> None:
        self._start: tuple[float, float, float, float] | None = None

    def start(self) -> "LoadMonitor":
        jiffies = _cpu_jiffies()
        self._start = None if jiffies is None else (*jiffies, _own_cpu_seconds(), time.perf_counter())
        return self

    def stop(self) -> Load | None:
        jiffies = _cpu_jiffies()
        if self._start is None or jiffies is None:
            return None
        busy0, steal0, own0, t0 = self._start
        wall = time.perf_counter() - t0
        if wall <= 0:
            return None
        others = max(0.0, (jiffies[0] - busy0) - (_own_cpu_seconds() - own0)) / wall
        return Load(others=others, steal=max(0.0, jiffies[1] - steal0) / wall, seconds=wall)


def idle_check(seconds: float = 0.3) -> Load | None:
    """The load over a short quiet window before timing starts (we sleep; anything busy is someone else)."""
    monitor = LoadMonitor().start()
    time.sleep(seconds)
    return monitor.stop()

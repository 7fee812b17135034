"""
CPU time and resident memory of processes, read from ``/proc`` (Linux).

CPU % is measured as the CPU time (user + system, all threads) a process used
over a wall-clock window divided by that window, so 100 % is one core fully
busy.  Unlike a ``top``-style instantaneous reading, this is unaffected by how
often we sample, and other processes competing for the CPU (e.g. a training run
on the same machine) do not inflate it: they stretch latency, not CPU time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import os
import threading
import time
from typing import Dict, List, Optional, Tuple

#: Kernel clock ticks per second, the unit of utime/stime in /proc/<pid>/stat.
CLK_TCK = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100


class ProcError(RuntimeError):
    """A process's /proc entry is missing or unreadable (it exited, or not Linux)."""


@dataclass(frozen=True)
class ProcSample:
    """One reading of a process: when, CPU seconds used so far, resident memory."""

    t: float          # time.monotonic() of the reading
    cpu_s: float      # utime + stime of every thread, seconds
    rss_mb: float     # VmRSS, MiB


def read_cpu_seconds(pid: int) -> float:
    """Return utime + stime of ``pid`` in seconds (all its threads, not its children)."""
    try:
        with open(f'/proc/{pid}/stat', 'rb') as stream:
            data = stream.read().decode('ascii', 'replace')
    except OSError as exc:
        raise ProcError(f'/proc/{pid}/stat: {exc.strerror or exc}') from exc
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(')') + 2:].split()
    utime, stime = int(rest[11]), int(rest[12])   # fields 14 and 15 of proc(5)
    return (utime + stime) / CLK_TCK


def read_rss_mb(pid: int) -> float:
    """Return VmRSS of ``pid`` in MiB."""
    try:
        with open(f'/proc/{pid}/status', 'r', encoding='ascii', errors='replace') as stream:
            for line in stream:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0   # reported in kB
    except OSError as exc:
        raise ProcError(f'/proc/{pid}/status: {exc.strerror or exc}') from exc
    raise ProcError(f'/proc/{pid}/status: no VmRSS line (a zombie or kernel thread?)')


def sample(pid: int) -> ProcSample:
    """Read one :class:`ProcSample` of ``pid``."""
    t = time.monotonic()
    return ProcSample(t=t, cpu_s=read_cpu_seconds(pid), rss_mb=read_rss_mb(pid))


@dataclass
class Usage:
    """CPU and memory of one process over a window."""

    cpu_percent: Optional[float]     # of one core
    rss_mb_mean: Optional[float]
    rss_mb_max: Optional[float]
    rss_mb_last: Optional[float]
    samples: int

    def to_dict(self) -> Dict[str, Optional[float]]:
        """Return the fields rounded, JSON-ready."""
        def r(x: Optional[float], d: int = 2) -> Optional[float]:
            return None if x is None else round(x, d)
        return {'cpu_percent': r(self.cpu_percent), 'rss_mb_mean': r(self.rss_mb_mean),
                'rss_mb_max': r(self.rss_mb_max), 'rss_mb_last': r(self.rss_mb_last),
                'samples': self.samples}


def usage(samples: List[ProcSample], t0: float = float('-inf'),
          t1: float = float('inf')) -> Usage:
    """Summarise the samples taken within ``[t0, t1]`` (monotonic seconds)."""
    window = [s for s in samples if t0 <= s.t <= t1]
    if not window:
        return Usage(None, None, None, None, 0)
    cpu = None
    if len(window) >= 2 and window[-1].t > window[0].t:
        cpu = 100.0 * (window[-1].cpu_s - window[0].cpu_s) / (window[-1].t - window[0].t)
    rss = [s.rss_mb for s in window]
    return Usage(cpu, sum(rss) / len(rss), max(rss), rss[-1], len(window))


@dataclass
class ProcessSampler:
    """
    Samples named processes every ``interval_s`` in a background thread.

    Processes that exit (or are not yet there) are skipped silently: a sampler
    must never disturb the run it measures.  ``pids`` may be updated while it
    runs (e.g. a respawned node gets a new pid).
    """

    pids: Dict[str, int]
    interval_s: float = 0.5
    series: Dict[str, List[ProcSample]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: Optional[threading.Thread] = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def sample_now(self) -> float:
        """Take one reading of every process now; return its monotonic time."""
        now = time.monotonic()
        with self._lock:
            for name, pid in list(self.pids.items()):
                try:
                    reading = sample(pid)
                except (ProcError, ValueError, IndexError):
                    continue
                self.series.setdefault(name, []).append(reading)
        return now

    def start(self) -> 'ProcessSampler':
        """Start sampling in a daemon thread; return self."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name='proc-sampler', daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample_now()
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        """Stop sampling (takes one last reading first)."""
        self.sample_now()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def snapshot(self) -> Dict[str, List[ProcSample]]:
        """Return a copy of the series so far."""
        with self._lock:
            return {k: list(v) for k, v in self.series.items()}

    def usage(self, t0: float = float('-inf'),
              t1: float = float('inf')) -> Dict[str, Usage]:
        """Return every process's :class:`Usage` over ``[t0, t1]``."""
        return {name: usage(s, t0, t1) for name, s in self.snapshot().items()}


def total(usages: Dict[str, Usage], names: Optional[Tuple[str, ...]] = None
          ) -> Tuple[Optional[float], Optional[float]]:
    """Return (summed CPU %, summed mean RSS MiB) of ``names`` (default: all)."""
    chosen = [u for n, u in usages.items() if names is None or n in names]
    cpus = [u.cpu_percent for u in chosen if u.cpu_percent is not None]
    rss = [u.rss_mb_mean for u in chosen if u.rss_mb_mean is not None]
    return (round(sum(cpus), 2) if cpus else None, round(sum(rss), 1) if rss else None)

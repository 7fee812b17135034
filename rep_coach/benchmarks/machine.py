"""A description of the machine a benchmark ran on, and its load at the time."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from typing import Any, Dict, Optional, Tuple


def cpu_model() -> str:
    """Return ``lscpu``'s model name (or /proc/cpuinfo's, or the platform's)."""
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10,
                             env={**os.environ, 'LC_ALL': 'C'}).stdout
        for line in out.splitlines():
            if line.startswith('Model name:'):
                return line.split(':', 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as stream:
            for line in stream:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> Optional[Dict[str, float]]:
    """Return the 1, 5 and 15 minute load averages (None where unavailable)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return None
    return {'1min': round(one, 2), '5min': round(five, 2), '15min': round(fifteen, 2)}


def busy_fraction(seconds: float = 1.0) -> Optional[float]:
    """Return the fraction of all CPUs busy over ``seconds`` (from /proc/stat)."""
    import time
    first = cpu_times()
    time.sleep(seconds)
    return busy_between(first, cpu_times())


def cpu_times() -> Optional[Tuple[int, int]]:
    """Return the machine's (total, idle + iowait) CPU time in ticks (/proc/stat), or None."""
    try:
        with open('/proc/stat', encoding='ascii') as stream:
            fields = [int(x) for x in stream.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)


def busy_between(first: Optional[Tuple[int, int]],
                 second: Optional[Tuple[int, int]]) -> Optional[float]:
    """Return the fraction of all CPUs busy between two :func:`cpu_times` readings."""
    if first is None or second is None or second[0] == first[0]:
        return None
    return round(1.0 - (second[1] - first[1]) / (second[0] - first[0]), 3)


def describe(measure_busy: bool = True) -> Dict[str, Any]:
    """Return model name, cores, Python version, OS and the current load."""
    info: Dict[str, Any] = {
        'cpu_model': cpu_model(),
        'cores': os.cpu_count(),
        'python': platform.python_version(),
        'implementation': sys.implementation.name,
        'os': f'{platform.system()} {platform.release()}',
        'load_average': load_average(),
    }
    if measure_busy:
        # Load from other work (e.g. a training run) stretches latencies: say so.
        info['cpu_busy_before'] = busy_fraction(1.0)
    return info


def load_note(info: Dict[str, Any]) -> str:
    """Return a one-line note of the load, e.g. 'load 1.8/2.4/1.6, 85 % busy'."""
    la = info.get('load_average') or {}
    parts = []
    if la:
        parts.append(f'load avg {la["1min"]}/{la["5min"]}/{la["15min"]} '
                     f'on {info.get("cores")} cores')
    busy = info.get('cpu_busy_before')
    if busy is not None:
        parts.append(f'{busy * 100:.0f} % of all CPUs busy just before')
    return ', '.join(parts) or 'load unknown'

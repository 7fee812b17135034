"""
Soak: a long simulated session at 100 Hz, played faster than real time.

A session of many sets to failure (rest between them) is played through the
whole graph at ``speed`` x real time; every node's RSS is sampled every few
seconds.  Reported:

* memory: per node and in total, RSS growth after warm-up (median of the last
  two simulated minutes - median of the two minutes after warm-up) and the
  least-squares slope in MB per simulated hour;
* reliable topics: the counts of :func:`rep_coach.benchmarks.graph.reliable_counts`;
* latency: rep event latency (p50/p99) per window of simulated time; at a speed
  above 1 it is still wall time from the sample's due time to reception, i.e.
  the processing and transport delay while the graph carries ``speed`` x 100 Hz;
* the IMU samples the recorder got vs those published (best effort: a graph
  that cannot keep up at this speed drops samples and the soak says so).
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import shutil
import statistics
from typing import Any, Callable, Dict, List, Optional

from rep_coach.benchmarks.graph import (GraphConfig, reliable_counts, rep_latencies, run_graph,
                                        summarize)
from rep_coach.benchmarks.stats import latency_stats, linear_slope

#: Acceptance: RSS growth after warm-up, MB, of all nodes together (per-node growths summed).
MAX_GROWTH_MB = 5.0


@dataclass
class SoakConfig:
    """A soak run: simulated minutes, playback speed, sampling and windows."""

    minutes: float = 60.0
    # The graph costs 5-10 % of a core per 100 Hz here (see bench/README.md): 4x stays
    # well within two cores shared with other work and finishes an hour in 15 minutes.
    speed: float = 4.0
    rest_s: float = 60.0
    seed: int = 11
    warmup_min: float = 5.0          # simulated minutes left out of the memory growth
    window_min: float = 5.0          # simulated minutes per latency window
    sample_interval_s: float = 2.0   # wall seconds between /proc samples
    progress: Optional[Callable[[str], None]] = None


def sets_for(minutes: float, rest_s: float, seed: int) -> int:
    """Return how many simulated sets fill ``minutes`` (simulating is cheap: < 1 s/hour)."""
    from rep_coach.core.sim import SimConfig, simulate

    def duration(sets: int) -> float:
        rec = simulate(SimConfig(seed=seed, sets=sets, rest_s=rest_s, tail_s=10))
        return float(rec.imu.t[-1] - rec.imu.t[0])
    target = minutes * 60.0
    sets = max(1, int(math.ceil(target / (duration(4) / 4))))
    # Sets differ in length (reps to failure drawn per subject, fatigue): top up.
    for _ in range(20):
        got = duration(sets)
        if got >= target:
            break
        sets += max(1, int(math.ceil((target - got) / (got / sets))))
    return sets


def _median(values: List[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def run_soak(config: SoakConfig) -> Dict[str, Any]:
    """Run the soak and return its figures as a JSON-ready dict."""
    say = config.progress or (lambda text: None)
    # A short (trial) soak keeps most of its length for the measurement.
    config.warmup_min = min(config.warmup_min, config.minutes / 4.0)
    sets = sets_for(config.minutes, config.rest_s, config.seed)
    graph_config = GraphConfig(speed=config.speed, sets=sets, seed=config.seed,
                               sim_options=f'tail_s=10,rest_s={config.rest_s:g}',
                               warmup_s=config.warmup_min * 60.0 / config.speed,
                               sample_interval_s=config.sample_interval_s,
                               timeout_s=config.minutes * 60.0 / config.speed * 3 + 300,
                               progress=say)
    run = run_graph(graph_config)
    try:
        return _summarize_soak(config, run, sets)
    finally:
        shutil.rmtree(run.workdir, ignore_errors=True)   # an hour's bag is ~100 MB


def _summarize_soak(config: SoakConfig, run: Any, sets: int) -> Dict[str, Any]:
    """Return the soak figures of a finished run."""
    summary = summarize(run)
    speed = config.speed
    first_wall = run.source_time(run.imu_stamps[0]) if run.imu_stamps else run.launched_wall
    last_wall = run.source_time(run.imu_stamps[-1]) if run.imu_stamps else first_wall

    def data_min(t_mono: float) -> float:
        return (t_mono + run.mono_to_wall - first_wall) * speed / 60.0

    end_min = (last_wall - first_wall) * speed / 60.0
    memory: Dict[str, Any] = {}
    growth_total = 0.0
    for name, series in run.sampler.snapshot().items():
        points = [(data_min(s.t), s.rss_mb) for s in series if 0 <= data_min(s.t) <= end_min]
        after = [p for p in points if p[0] >= config.warmup_min]
        early = [r for m, r in after if m <= config.warmup_min + 2.0]
        late = [r for m, r in after if m >= end_min - 2.0]
        start, end = _median(early), _median(late)
        growth = None if start is None or end is None else end - start
        slope = linear_slope([m for m, _ in after], [r for _, r in after])
        memory[name] = {'rss_mb_after_warmup': _r(start), 'rss_mb_end': _r(end),
                        'growth_mb': _r(growth),
                        'slope_mb_per_hour': _r(None if slope is None else slope * 60.0),
                        'samples': len(after)}
        growth_total += growth or 0.0
    windows = []
    window_s = config.window_min * 60.0
    n_windows = max(1, int(math.ceil(end_min / config.window_min)))
    for k in range(n_windows):
        t0 = first_wall + k * window_s / speed
        t1 = first_wall + (k + 1) * window_s / speed
        stats = latency_stats(rep_latencies(run, t0, t1))
        windows.append({'from_min': k * config.window_min, 'n': stats.n,
                        'p50_ms': stats.p50_ms, 'p99_ms': stats.p99_ms})
    p99s = [w['p99_ms'] for w in windows if w['p99_ms'] is not None]
    counts = reliable_counts(run)
    # Stable: no window's p99 drifts far above the first windows' (5 ms slack for noise).
    reference = statistics.median(p99s[:3]) if p99s else None
    stable = None if reference is None else all(p <= 1.5 * reference + 5.0 for p in p99s)
    imu_pub, imu_rec = counts['imu_published'], counts['imu_recorded']
    result = {
        'simulated_minutes': round(end_min, 1),
        'sets': sets,
        'speed': speed,
        'wall_seconds': round(last_wall - run.launched_wall, 1),
        'model': run.model,
        'model_note': run.model_note,
        'memory': memory,
        'rss_growth_mb_total': round(growth_total, 2),
        'memory_flat': growth_total <= MAX_GROWTH_MB,
        'latency_windows': windows,
        'latency_stable': stable,
        'event_latency_p99_ms': summary['event_latency_p99_ms'],
        'counts': counts,
        'lost_reliable': counts['lost_reliable'],
        'imu_lost_fraction': (None if not imu_pub else round(1 - imu_rec / imu_pub, 5)),
        'cpu_percent_total': summary['cpu_percent_total'],
        # At speed k the graph carries k x 100 Hz: its CPU per 100 Hz of IMU.
        'cpu_percent_total_per_100hz': (None if summary['cpu_percent_total'] is None
                                        else round(summary['cpu_percent_total'] / speed, 2)),
        'nodes': summary['nodes'],
        'exit_codes': run.exit_codes,
    }
    result['passed'] = bool(result['memory_flat'] and result['lost_reliable'] == 0
                            and stable)
    return result


def _r(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(x, 2)


def soak_table(s: Dict[str, Any]) -> str:
    """Return the soak result as text."""
    lines = [f'soak: {s["simulated_minutes"]} simulated min ({s["sets"]} sets) at x{s["speed"]:g} '
             f'in {s["wall_seconds"]} s, {s["model"]} stages']
    if s.get('model_note'):
        lines.append(f'  note: {s["model_note"]}')
    lines.append(f'  {"node":26s} {"RSS after warm-up":>18s} {"RSS end":>9s} {"growth":>8s} '
                 f'{"MB/hour":>8s}')
    for name, m in s['memory'].items():
        lines.append(f'  {name:26s} {_s(m["rss_mb_after_warmup"]):>18s} {_s(m["rss_mb_end"]):>9s} '
                     f'{_s(m["growth_mb"]):>8s} {_s(m["slope_mb_per_hour"]):>8s}')
    lines.append(f'  total growth {s["rss_growth_mb_total"]} MB '
                 f'({"flat" if s["memory_flat"] else "NOT flat"}, limit {MAX_GROWTH_MB:g} MB)')
    lines.append('  rep event latency per window (simulated min: n, p50/p99 ms):')
    cells = [f'{w["from_min"]:g}: {w["n"]}, {_s(w["p50_ms"])}/{_s(w["p99_ms"])}'
             for w in s['latency_windows']]
    lines.append('    ' + '; '.join(cells))
    lines.append(f'  latency stable: {s["latency_stable"]}')
    parts = [f'{k} {c["sent"]}/{c["recorded"]}/{c["heard"]}'
             for k, c in s['counts']['topics'].items()]
    lines.append(f'  reliable sent/recorded/heard: {", ".join(parts)}; lost {s["lost_reliable"]}')
    lines.append(f'  IMU recorded {s["counts"]["imu_recorded"]} of '
                 f'{s["counts"]["imu_published"]} published (best effort)')
    lines.append(f'  CPU all nodes {s["cpu_percent_total"]} % at x{s["speed"]:g} '
                 f'({s["cpu_percent_total_per_100hz"]} % per 100 Hz)')
    lines.append(f'  soak {"PASSED" if s["passed"] else "FAILED"}')
    return '\n'.join(lines)


def _s(x: Any) -> str:
    return '-' if x is None else str(x)

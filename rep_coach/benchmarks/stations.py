"""
N gym stations on one machine: CPU, memory and rep latency of each, to size a gym.

Every station is the whole graph (the four coaching nodes and the recorder) under its
own namespace (``/station1`` ...), all on one DDS domain on loopback, each lifter a
different simulated session played in real time (100 Hz).  After ``warmup_s`` the
processes' CPU time and RSS are sampled from /proc; each station's bag then gives its
rep event latency (the recorder's reception minus the IMU stamp of the sample that
produced the rep, as in :mod:`rep_coach.benchmarks.graph`) and its reps against the
simulator's.  CPU % is of one core; the machine's own busy fraction (all cores, other
work included) is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional

from rep_coach.benchmarks.graph import GraphBenchError, LogCapture, read_session_bag, resolve_model
from rep_coach.benchmarks.machine import busy_between, cpu_times, describe, load_note
from rep_coach.benchmarks.procstat import ProcessSampler, total
from rep_coach.benchmarks.stats import latency_stats

#: Each lifter: sets of different loads (seeded per station) with short rests.
SIM_OPTIONS = 'sets=6,rest_s=12,lead_in_s=2'


@dataclass
class StationsConfig:
    """What to run: how many stations, for how long, with which stages."""

    stations: int = 2
    duration_s: float = 60.0           # wall seconds from the first sample to the stop
    warmup_s: float = 10.0             # wall seconds after the start not measured
    model: Optional[str] = None        # learned/baseline; None = learned when usable
    sample_interval_s: float = 1.0
    keep_dir: Optional[Path] = None    # keep the bags here (default: a temp dir)
    progress: Optional[Any] = None     # callable(str) for progress lines


def station_namespace(index: int) -> str:
    """Return the namespace of station ``index`` (1-based): ``/station1``."""
    return f'/station{index}'


def measure_stations(config: StationsConfig) -> Dict[str, Any]:
    """Run ``config.stations`` stations together; return per-station and total figures."""
    from rep_coach.launcher import isolated_env, Launcher, LaunchError, standard_graph
    from rep_coach.paths import default_params_file
    say = config.progress or (lambda text: None)
    workdir = Path(config.keep_dir or tempfile.mkdtemp(prefix='rep_coach_bench_stations_'))
    bag_dir = workdir / 'bags'
    model, note = resolve_model(config.model)
    if note:
        say(f'stations: {note}')
    machine = describe()
    env = isolated_env()
    launchers: Dict[str, Launcher] = {}
    logs = LogCapture()
    for index in range(1, config.stations + 1):
        overrides = {'imu_publisher': {'sim_seed': index}, 'audio_feedback': {'sink': 'null'},
                     'rep_segmenter': {'model': model},
                     'near_failure_classifier': {'model': model}}
        try:
            nodes = standard_graph(f'sim:{SIM_OPTIONS}', str(bag_dir), overrides)
        except LaunchError as exc:
            raise GraphBenchError(str(exc)) from exc
        launchers[station_namespace(index)] = Launcher(
            nodes, params_file=default_params_file(), namespace=station_namespace(index),
            env=env, output=logs)
    sampler = ProcessSampler({}, interval_s=config.sample_interval_s)
    say(f'stations: launching {config.stations} x {len(nodes)} nodes ({model} stages) for '
        f'{config.duration_s:.0f} s')
    try:
        for ns, launcher in launchers.items():
            launcher.start()
            sampler.pids.update({f'{ns}/{n}': pid for n, pid in launcher.pids().items()})
        sampler.start()
        start = time.monotonic()
        time.sleep(config.warmup_s)
        t0, busy0 = time.monotonic(), cpu_times()
        while time.monotonic() - start < config.duration_s:
            for launcher in launchers.values():
                launcher.poll()
            time.sleep(0.5)
        t1, busy1 = time.monotonic(), cpu_times()
        died = {ns: codes for ns, launcher in launchers.items()
                for codes in [launcher.exit_codes] if codes}
    finally:
        sampler.stop()
        for launcher in launchers.values():
            launcher.stop()
    usages = sampler.usage(t0, t1)
    stations = {}
    for ns in launchers:
        cpu, rss = total({n: u for n, u in usages.items() if n.startswith(ns + '/')})
        bags = sorted(bag_dir.glob(f'rep_coach_{ns.strip("/")}_*'))
        reps: List[Any] = []
        labels = 0
        if bags:
            _, _, topics = read_session_bag(bags[-1])
            reps, labels = topics['reps'], len(topics['labels/reps'])
        stations[ns] = {'cpu_percent': cpu, 'rss_mb': rss, 'reps': len(reps),
                        'true_reps': labels,
                        'rep_latency': latency_stats(r.recv - r.data['stamp']
                                                     for r in reps).to_dict()}
    cpu, rss = total(usages)
    busy = busy_between(busy0, busy1)
    latencies = [s['rep_latency']['p99_ms'] for s in stations.values()
                 if s['rep_latency']['p99_ms'] is not None]
    if config.keep_dir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return {'stations': config.stations, 'model': model, 'window_s': round(t1 - t0, 1),
            'machine': machine, 'load': load_note(machine), 'per_station': stations,
            'cpu_percent_total': cpu, 'rss_mb_total': rss,
            'cpu_percent_per_station': round(cpu / config.stations, 2) if cpu else None,
            'machine_busy_fraction': busy,
            'worst_rep_latency_p99_ms': max(latencies) if latencies else None,
            'nodes_died': died}


def stations_table(result: Dict[str, Any]) -> str:
    """Format one run of :func:`measure_stations` as a small table."""
    lines = [f'{result["stations"]} station(s), {result["model"]} stages, '
             f'{result["window_s"]:.0f} s measured; {result["load"]}',
             f'  {"station":<12} {"CPU %":>7} {"RSS MB":>8} {"reps":>6} {"true":>5} '
             f'{"p50 ms":>7} {"p99 ms":>7}']
    for ns, s in result['per_station'].items():
        lat = s['rep_latency']
        lines.append(f'  {ns:<12} {s["cpu_percent"] or 0:7.2f} {s["rss_mb"] or 0:8.1f} '
                     f'{s["reps"]:6d} {s["true_reps"]:5d} {lat["p50_ms"] or 0:7.2f} '
                     f'{lat["p99_ms"] or 0:7.2f}')
    busy = result['machine_busy_fraction']
    lines.append(f'  {"total":<12} {result["cpu_percent_total"] or 0:7.2f} '
                 f'{result["rss_mb_total"] or 0:8.1f}   machine busy (all cores, all work) '
                 f'{"?" if busy is None else f"{busy * 100:.0f} %"}')
    if result['nodes_died']:
        lines.append(f'  nodes that exited early: {result["nodes_died"]}')
    return '\n'.join(lines)

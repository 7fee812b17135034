"""
Every benchmark side by side: inference, graph, evaluation, pose, audio.

The scripts other people own (``bench/bench_inference.py``, ``bench/bench_pose.py``,
``bench/bench_audio_latency.py``) are called as subprocesses with ``--json``, so
their imports (torch, mediapipe) and thread settings stay in their own process;
a script that is missing or fails gives a ``{"available": false, "reason": ...}``
entry instead of failing the whole run.  The graph and the evaluation throughput
are measured here.

Targets (a 2-core machine): <= 2 ms per model update, rep event latency p99
<= 30 ms beyond the algorithmic cue delay, the whole graph <= 15 % of one core
and <= 400 MB RSS at 100 Hz, nothing lost on reliable topics, evaluation
>= 500x real time.
"""

from __future__ import annotations

from dataclasses import dataclass
import json
from pathlib import Path
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from rep_coach.benchmarks import machine

#: ``bench/`` of a source checkout (absent from a plain pip install).
BENCH_DIR = Path(__file__).resolve().parents[2] / 'bench'
#: ``../shared/data/thomas2025`` beside the repository.
THOMAS2025 = Path(__file__).resolve().parents[3] / 'shared' / 'data' / 'thomas2025'
SECTIONS = ('inference', 'graph', 'evaluation', 'pose', 'audio')

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """One target: where its value is in the result, the bound and its direction."""

    name: str
    path: Sequence[str]
    bound: float
    at_most: bool = True
    unit: str = ''

    def value(self, result: Dict[str, Any]) -> Optional[float]:
        """Return the measured value in ``result`` (None when not measured)."""
        node: Any = result
        for key in self.path:
            if not isinstance(node, dict) or node.get(key) is None:
                return None
            node = node[key]
        return float(node) if isinstance(node, (int, float)) else None

    def check(self, result: Dict[str, Any]) -> Dict[str, Any]:
        """Return ``{name, bound, value, met}`` (met None when not measured)."""
        value = self.value(result)
        met = None if value is None else (value <= self.bound if self.at_most
                                          else value >= self.bound)
        return {'name': self.name, 'target': f'{"<=" if self.at_most else ">="} '
                f'{self.bound:g}{self.unit}', 'value': value, 'met': met}


TARGETS = (
    Target('model update p99 (ours, ORT, 1 thread)', ('inference', 'ours_p99_ms'), 2.0,
           unit=' ms'),
    Target('rep event latency p99 (beyond cue delay)', ('graph', 'event_latency_p99_ms'), 30.0,
           unit=' ms'),
    Target('graph CPU, all nodes (% of one core)', ('graph', 'cpu_percent_total'), 15.0,
           unit=' %'),
    Target('graph RSS, all nodes', ('graph', 'rss_mb_total'), 400.0, unit=' MB'),
    Target('lost on reliable topics', ('graph', 'lost_reliable'), 0.0),
    Target('evaluation speed (x real time)', ('evaluation', 'x_realtime'), 500.0, at_most=False,
           unit='x'),
)

#: Exit statuses of ``rep-coach bench`` (:func:`exit_status`); 2 is argparse's bad option.
EXIT_MET, EXIT_MISSED, EXIT_NOT_MEASURED = 0, 1, 3


# -- the scripts of others ---------------------------------------------------------------------

def run_script(name: str, args: List[str], timeout_s: float,
               progress: Progress) -> Dict[str, Any]:
    """Run ``bench/<name> --json ...`` and return its JSON, or why it is not available."""
    path = BENCH_DIR / name
    if not path.is_file():
        return {'available': False, 'reason': f'{path} not found'}
    cmd = [sys.executable, str(path), '--json', *args]
    progress(f'{name}: {" ".join(args) or "defaults"}')
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              cwd=str(BENCH_DIR.parent))
    except subprocess.TimeoutExpired:
        return {'available': False, 'reason': f'{name} did not finish in {timeout_s:.0f} s'}
    if proc.returncode != 0:
        tail = [line for line in proc.stderr.splitlines() if line.strip()][-1:]
        return {'available': False,
                'reason': f'{name} exited with {proc.returncode}: '
                          f'{tail[0] if tail else "no message"}'}
    try:
        # Some libraries print to stdout before the JSON: take the first '{' on.
        data = json.loads(proc.stdout[proc.stdout.index('{'):])
    except ValueError as exc:
        return {'available': False, 'reason': f'{name} printed no JSON ({exc})'}
    data['available'] = True
    data['seconds'] = round(time.monotonic() - started, 1)
    return data


def inference(quick: bool, progress: Progress) -> Dict[str, Any]:
    """Model inference per update (bench_inference.py), with the documented summary keys."""
    raw = run_script('bench_inference.py', ['--n', '60' if quick else '300'],
                     300 if quick else 1200, progress)
    if not raw.get('available'):
        return {'available': False, 'reason': raw['reason'], 'ours_p99_ms': None,
                'reference_p99_ms': None, 'updates_per_s': None}
    cases = raw.get('cases', {})

    def worst(prefix: str, key: str) -> Optional[float]:
        vals = [c[key] for n, c in cases.items()
                if n.startswith(prefix) and n.endswith('_ort') and c.get(key) is not None]
        return max(vals) if vals else None
    stages = {}
    for stage in ('segmenter', 'classifier'):
        ours, ref = cases.get(f'ours_{stage}_ort', {}), cases.get(f'reference_{stage}_ort', {})
        torch_ours = cases.get(f'ours_{stage}_torch', {})
        stages[stage] = {
            'ours_p50_ms': ours.get('p50_ms'), 'ours_p99_ms': ours.get('p99_ms'),
            'ours_torch_p99_ms': torch_ours.get('p99_ms'),
            'reference_p50_ms': ref.get('p50_ms'), 'reference_p99_ms': ref.get('p99_ms'),
            'ours_params': ours.get('params'), 'reference_params': ref.get('params'),
            'ours_onnx_kb': _kb(ours.get('onnx_bytes')),
            'reference_onnx_kb': _kb(ref.get('onnx_bytes')),
            'p99_ratio_reference_over_ours': _ratio(ref.get('p99_ms'), ours.get('p99_ms')),
        }
    summary = raw.get('summary', {})
    return {
        'available': True,
        # Without the train extra: ours in onnxruntime only ({'available': False, 'reason'}).
        'torch': raw.get('torch', {'available': True}),
        # The worse of the two stages: the per-update budget must hold for both.
        'ours_p99_ms': worst('ours_', 'p99_ms'),
        'reference_p99_ms': worst('reference_', 'p99_ms'),
        'updates_per_s': summary.get('ours_updates_per_s_sustained'),
        'stages': stages,
        'threads': raw.get('threads'),
        'raw': raw,
    }


def pose(quick: bool, progress: Progress) -> Dict[str, Any]:
    """Pose path frames per second on one core (bench_pose.py, the Tasks backend)."""
    raw = run_script('bench_pose.py', ['--frames', '20' if quick else '100',
                                       '--backend', 'mediapipe'], 600, progress)
    if not raw.get('available'):
        return {'available': False, 'reason': raw['reason'], 'coach_fps': None}
    first = (raw.get('results') or [{}])[0]
    return {'available': True, 'coach_fps': first.get('coach_fps'),
            'estimator_fps': first.get('estimator_fps'),
            'rules_ms_per_frame': first.get('rules_ms_per_frame'),
            'frame_size': first.get('frame_size'), 'person_found': first.get('person_found'),
            'raw': raw}


def audio(quick: bool, progress: Progress) -> Dict[str, Any]:
    """Cue event to playback start per sink (bench_audio_latency.py)."""
    raw = run_script('bench_audio_latency.py', ['--n', '5' if quick else '20'], 600, progress)
    if not raw.get('available'):
        return {'available': False, 'reason': raw['reason'], 'rows': []}
    rows = [{'sink': 'wav' if r['sink'].startswith('wav:') else r['sink'],
             'effective': 'wav' if str(r.get('effective', '')).startswith('wav:')
             else r.get('effective'), 'cue': r['cue'], 'n': r['n'],
             'p50_ms': _round(r.get('p50_ms')), 'p95_ms': _round(r.get('p95_ms')),
             'max_ms': _round(r.get('max_ms'))}
            for r in raw.get('results', []) if r.get('n')]
    return {'available': True, 'target_ms': raw.get('target_ms'), 'rows': rows}


# -- measured here ------------------------------------------------------------------------------

def load_thomas2025(data_dir: Path, limit: Optional[int] = None) -> List[Any]:
    """Load the thomas2025 sets, or only the first ``limit`` present (parsing is slow)."""
    from rep_coach.core import thomas2025 as t25
    if limit is None:
        return t25.load_dataset(data_dir)
    indexes = t25.read_rep_indexes(data_dir / t25.REP_INDEX_FILE)
    rpes = t25.read_dataset_rpes(data_dir)
    names = [n for n in sorted(indexes) if (data_dir / t25.RAW_DIR / f'{n}.csv').is_file()]
    return [t25.load_set(data_dir, n, indexes, rpes) for n in names[:limit]]


def evaluation(quick: bool, progress: Progress) -> Dict[str, Any]:
    """
    Offline evaluation throughput, in multiples of real time, of each pipeline.

    On the thomas2025 data when present, else on simulated sets.  Two figures per
    pipeline: ``evaluate``'s own (stage replay only) and the whole call including
    scoring, which is what a user waits for.
    """
    from rep_coach.core.evaluation import evaluate
    from rep_coach.benchmarks.graph import learned_models_missing
    from rep_coach.pipeline import stage_factories   # what the nodes and evaluate build

    tic = time.perf_counter()
    limit = 4 if quick else None
    if (THOMAS2025 / 'rep_indexes_corrected.txt').is_file():
        progress(f'evaluation: loading {THOMAS2025}')
        recordings = load_thomas2025(THOMAS2025, limit)
        data = 'thomas2025'
    else:
        from rep_coach.core.sim import SimConfig, simulate
        recordings = [simulate(SimConfig(seed=i, sets=1)) for i in range(limit or 20)]
        data = 'simulated (thomas2025 not found)'
    load_s = time.perf_counter() - tic
    seconds = sum(float(r.imu.t[-1] - r.imu.t[0]) for r in recordings if len(r.imu))
    pipelines: Dict[str, Any] = {'baseline': stage_factories('baseline')}
    why = learned_models_missing()
    if why is None:
        try:
            pipelines['learned'] = stage_factories('learned')
        except Exception as exc:  # noqa: B902 - a broken model is reported, not fatal
            why = f'learned stages unavailable: {exc}'
    out: Dict[str, Any] = {'data': data, 'sets': len(recordings),
                           'data_seconds': round(seconds, 1), 'load_s': round(load_s, 2)}
    for name, (seg, clf) in pipelines.items():
        progress(f'evaluation: {name} on {len(recordings)} sets ({seconds:.0f} s of data)')
        tic = time.perf_counter()
        result = evaluate(recordings, seg, clf, per_subject=False)
        wall = time.perf_counter() - tic
        out[name] = {'x_realtime': result.get('speed_x_realtime'),
                     'x_realtime_with_scoring': round(seconds / wall, 1) if wall else None,
                     'seconds': round(wall, 2)}
    if why:
        out['learned'] = {'available': False, 'reason': why}
    chosen = 'learned' if 'x_realtime' in out.get('learned', {}) else 'baseline'
    out['pipeline'] = chosen
    out['x_realtime'] = out[chosen]['x_realtime']
    return out


def graph(quick: bool, progress: Progress, keep: Optional[Path] = None,
          echo_logs: bool = False) -> Dict[str, Any]:
    """Run the graph benchmark at 100 Hz in real time (a short set with --quick)."""
    from rep_coach.benchmarks.graph import GraphBenchError, GraphConfig, measure_graph
    if quick:
        config = GraphConfig(sim_options='tail_s=10,reps_to_failure=6', warmup_s=3.0)
    else:
        # Two sets with a short rest: ~20 reps for the percentiles, a rest for the CPU.
        config = GraphConfig(sim_options='tail_s=10,rest_s=20', sets=2, warmup_s=5.0)
    config.keep_dir = keep
    config.echo_logs = echo_logs
    config.progress = progress
    try:
        return measure_graph(config)
    except GraphBenchError as exc:
        return {'available': False, 'reason': str(exc), 'event_latency_p99_ms': None,
                'cpu_percent_total': None, 'rss_mb_total': None, 'lost_reliable': None}


def run_suite(only: Sequence[str] = SECTIONS, quick: bool = False,
              progress: Optional[Progress] = None, keep: Optional[Path] = None,
              echo_logs: bool = False) -> Dict[str, Any]:
    """Run the chosen sections one after the other; return one JSON-ready dict."""
    say = progress or (lambda text: None)
    info = machine.describe()
    say(f'machine: {info["cpu_model"]}, {info["cores"]} cores, Python {info["python"]}; '
        f'{machine.load_note(info)}')
    result: Dict[str, Any] = {'machine': info, 'quick': quick, 'sections': list(only)}
    started = time.monotonic()
    if 'inference' in only:
        result['inference'] = inference(quick, say)
    if 'graph' in only:
        result['graph'] = graph(quick, say, keep, echo_logs)
    if 'evaluation' in only:
        result['evaluation'] = evaluation(quick, say)
        result['evaluation_x_realtime'] = result['evaluation']['x_realtime']
    if 'pose' in only:
        result['pose'] = pose(quick, say)
    if 'audio' in only:
        result['audio'] = audio(quick, say)
    result['seconds'] = round(time.monotonic() - started, 1)
    result['load_after'] = machine.load_average()
    result['targets'] = [t.check(result) for t in TARGETS]
    return result


def not_available(result: Dict[str, Any]) -> List[str]:
    """
    Return what of the sections run could not be measured, one ``what: why`` each.

    A section that could not run (``available`` false), a part of one that could not
    (a dict entry with ``available`` false: inference's PyTorch cases and reference,
    evaluation's learned stages), a graph that ran the baseline stages because the
    learned ones would not load (its ``model_note``: its targets are judged on stages
    the nodes do not run by default) and a target of a section run that has no value.
    """
    lines = []
    for name in result.get('sections', ()):
        section = result.get(name)
        if not isinstance(section, dict):
            continue
        if section.get('available') is False:
            lines.append(f'{name}: {section.get("reason")}')
            continue
        if section.get('model_note'):
            lines.append(f'{name}: {section["model_note"]}')
        lines += [f'{name} {part}: {entry.get("reason")}' for part, entry in section.items()
                  if isinstance(entry, dict) and entry.get('available') is False]
    ran = {t.name for t in TARGETS if t.path[0] in result.get('sections', ())}
    lines += [f'target {t["name"]}: not measured' for t in result.get('targets', ())
              if t['name'] in ran and t['met'] is None]
    return lines


def exit_status(result: Dict[str, Any]) -> int:
    """
    Return ``rep-coach bench``'s exit status for ``result``.

    1 if a target measured was missed (whatever else), else 3 if anything run could
    not be measured (:func:`not_available`), else 0.
    """
    if any(t['met'] is False for t in result.get('targets', ())):
        return EXIT_MISSED
    return EXIT_NOT_MEASURED if not_available(result) else EXIT_MET


# -- the table for humans ------------------------------------------------------------------------

def _kb(n: Optional[float]) -> Optional[float]:
    return None if n is None else round(n / 1024.0, 1)


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if not a or not b else round(a / b, 1)


def _round(x: Optional[float], digits: int = 2) -> Optional[float]:
    return None if x is None else round(float(x), digits)


def _f(x: Any, fmt: str = '.2f') -> str:
    if x is None:
        return '-'
    if isinstance(x, float):
        return format(x, fmt)
    return str(x)


def graph_table(g: Dict[str, Any]) -> str:
    """Return the graph section as text lines."""
    if g.get('available') is False:
        return f'graph: not available: {g["reason"]}'
    lat = g['latency']
    lines = [f'graph: {g["source"]} x{g["speed"]:g}, {g["model"]} stages, '
             f'{g["data_seconds"]} s of data at {g["imu_rate_hz"]} Hz '
             f'(latencies at the {g["latency_source"]})']
    if g.get('model_note'):
        lines.append(f'  note: {g["model_note"]}')
    lines.append(f'  {"latency from the IMU sample stamp":40s} {"n":>4s} {"p50 ms":>8s} '
                 f'{"p99 ms":>8s} {"max ms":>8s}')
    for key, label in (('rep_event', 'rep event'), ('near_failure', 'near-failure verdict'),
                       ('feedback', 'feedback text'), ('playback_start', 'playback start'),
                       ('sink_enqueue_to_start', '  (sink: cue -> playback start)'),
                       ('recorder_lag', '  (recorder hears reps later by)')):
        s = lat[key]
        lines.append(f'  {label:40s} {s["n"]:>4d} {_f(s["p50_ms"]):>8s} {_f(s["p99_ms"]):>8s} '
                     f'{_f(s["max_ms"]):>8s}')
    algo = g['algorithmic_cue_delay']
    lines.append(f'  {"algorithmic cue delay (stamp - end)":40s} {algo["n"]:>4d} '
                 f'{_f(algo["p50_ms"]):>8s} {_f(algo["p99_ms"]):>8s} {_f(algo["max_ms"]):>8s}')
    lines.append(f'  {"node (steady state, " + _f(g["window_s"], ".0f") + " s)":40s} '
                 f'{"CPU %":>8s} {"RSS MB":>8s}')
    for name, u in g['nodes'].items():
        lines.append(f'  {name:40s} {_f(u["cpu_percent"]):>8s} {_f(u["rss_mb_mean"], ".1f"):>8s}')
    lines.append(f'  {"total (all nodes)":40s} {_f(g["cpu_percent_total"]):>8s} '
                 f'{_f(g["rss_mb_total"], ".1f"):>8s}')
    lines.append(f'  {"  coaching nodes only (no recorder)":40s} '
                 f'{_f(g["cpu_percent_coaching"]):>8s} {_f(g["rss_mb_coaching"], ".1f"):>8s}')
    counts = g['counts']
    parts = [f'{k} {c["sent"]}/{c["recorded"]}/{_f(c["heard"])}'
             for k, c in counts['topics'].items()]
    lines.append(f'  reliable sent/recorded/heard: {", ".join(parts)}; lost '
                 f'{g["lost_reliable"]}; IMU (best effort) {counts["imu_recorded"]}/'
                 f'{counts["imu_published"]} recorded')
    st = g['startup']
    lines.append(f'  start-up: first IMU sample {_f(st["to_first_sample_s"])} s after launch, '
                 f'first rep event {_f(st["to_first_event_s"])} s (of which '
                 f'{_f(st["first_event_data_s"])} s is the lifter\'s first rep)')
    return '\n'.join(lines)


def table(result: Dict[str, Any]) -> str:
    """Return the whole result as a table for humans."""
    info = result['machine']
    lines = [f'rep_coach benchmarks{" (--quick)" if result.get("quick") else ""}',
             f'machine: {info["cpu_model"]}, {info["cores"]} cores, Python {info["python"]}, '
             f'{info["os"]}', f'load: {machine.load_note(info)}', '']
    inf = result.get('inference')
    if inf is not None:
        if not inf.get('available'):
            lines.append(f'inference: not available: {inf["reason"]}')
        else:
            lines.append('inference per update, 1 thread:')
            lines.append(f'  {"stage":12s} {"ours p50":>9s} {"ours p99":>9s} {"torch p99":>9s} '
                         f'{"ref p50":>9s} {"ref p99":>9s} {"ratio":>6s} {"params":>9s} '
                         f'{"ref params":>10s} {"KB":>7s} {"ref KB":>8s}')
            for name, s in inf['stages'].items():
                lines.append(
                    f'  {name:12s} {_f(s["ours_p50_ms"], ".3f"):>9s} '
                    f'{_f(s["ours_p99_ms"], ".3f"):>9s} {_f(s["ours_torch_p99_ms"], ".3f"):>9s} '
                    f'{_f(s["reference_p50_ms"], ".3f"):>9s} '
                    f'{_f(s["reference_p99_ms"], ".3f"):>9s} '
                    f'{_f(s["p99_ratio_reference_over_ours"], ".1f"):>6s} '
                    f'{_f(s["ours_params"]):>9s} {_f(s["reference_params"]):>10s} '
                    f'{_f(s["ours_onnx_kb"], ".1f"):>7s} {_f(s["reference_onnx_kb"], ".1f"):>8s}')
            lines.append(f'  sustained updates/s on one core: {_f(inf["updates_per_s"], ".0f")}')
            if inf['torch'].get('available') is False:
                lines.append(f'  not available: {inf["torch"]["reason"]}')
        lines.append('')
    if result.get('graph') is not None:
        lines += [graph_table(result['graph']), '']
    ev = result.get('evaluation')
    if ev is not None:
        lines.append(f'evaluation: {ev["sets"]} sets, {ev["data"]}, {ev["data_seconds"]} s of '
                     f'data (loading {ev["load_s"]} s)')
        for name in ('learned', 'baseline'):
            e = ev.get(name)
            if e is None:
                continue
            if 'x_realtime' not in e:
                lines.append(f'  {name:10s} not available: {e.get("reason")}')
                continue
            lines.append(f'  {name:10s} {_f(e["x_realtime"], ".0f")}x real time (stages), '
                         f'{_f(e["x_realtime_with_scoring"], ".0f")}x with scoring')
        lines.append('')
    po = result.get('pose')
    if po is not None:
        if not po.get('available'):
            lines.append(f'pose: not available: {po["reason"]}')
        else:
            lines.append(f'pose (1 core, {po["frame_size"]}): coach {_f(po["coach_fps"], ".1f")} '
                         f'fps, estimator {_f(po["estimator_fps"], ".1f")} fps, rules '
                         f'{_f(po["rules_ms_per_frame"], ".3f")} ms/frame')
        lines.append('')
    au = result.get('audio')
    if au is not None:
        if not au.get('available'):
            lines.append(f'audio: not available: {au["reason"]}')
        else:
            lines.append('audio, cue to playback start:')
            for r in au['rows']:
                lines.append(f'  {r["sink"]:12s} {str(r["effective"])[:24]:24s} {r["cue"]:16s} '
                             f'n={r["n"]:<3d} p50 {_f(r["p50_ms"]):>7s} ms  '
                             f'p95 {_f(r["p95_ms"]):>7s} ms')
        lines.append('')
    lines.append('targets:')
    for t in result['targets']:
        verdict = {True: 'met', False: 'MISSED', None: 'not measured'}[t['met']]
        lines.append(f'  {t["name"]:44s} {t["target"]:>10s}  {_f(t["value"]):>9s}  {verdict}')
    return '\n'.join(lines)

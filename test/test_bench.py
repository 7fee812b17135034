"""
The benchmark tools: statistics, /proc sampling, and `rep-coach bench` output keys.

No timing is asserted here: timings depend on the machine and its load and are
benchmarks (``rep-coach bench``), not tests.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import struct
import subprocess
import sys
import time

import pytest

from rep_coach.benchmarks import machine, procstat
from rep_coach.benchmarks.graph import _cdr_stamp, _cdr_string, _event_topic
from rep_coach.benchmarks.stats import latency_stats, linear_slope
from rep_coach.benchmarks.suite import Target, TARGETS

ROOT = Path(__file__).resolve().parents[1]


def test_latency_stats_percentiles_in_ms() -> None:
    stats = latency_stats([i / 1000.0 for i in range(1, 101)])  # 1..100 ms
    assert stats.n == 100
    assert stats.p50_ms == pytest.approx(50.5)
    assert stats.p99_ms == pytest.approx(99.01)
    assert stats.max_ms == pytest.approx(100.0)
    assert stats.mean_ms == pytest.approx(50.5)


def test_latency_stats_ignores_missing_and_handles_empty() -> None:
    assert latency_stats([None, float('nan'), 0.002]).n == 1
    empty = latency_stats([])
    assert empty.n == 0 and empty.p99_ms is None
    assert set(empty.to_dict()) == {'n', 'p50_ms', 'p99_ms', 'max_ms', 'mean_ms'}


def test_linear_slope() -> None:
    assert linear_slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert linear_slope([1], [1]) is None


def test_proc_sampling_of_this_process() -> None:
    pid = os.getpid()
    if not Path(f'/proc/{pid}/stat').exists():
        pytest.skip('no /proc here')
    before = procstat.sample(pid)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # burn some CPU so the counter moves
        pass
    after = procstat.sample(pid)
    assert after.cpu_s > before.cpu_s
    assert after.rss_mb > 1.0
    usage = procstat.usage([before, after])
    assert usage.cpu_percent is not None and usage.cpu_percent > 0
    assert usage.samples == 2


def test_sampler_skips_processes_that_are_gone() -> None:
    proc = subprocess.Popen([sys.executable, '-c', 'pass'])
    proc.wait()
    sampler = procstat.ProcessSampler({'self': os.getpid(), 'gone': proc.pid},
                                      interval_s=0.05).start()
    time.sleep(0.2)
    sampler.stop()
    usages = sampler.usage()
    assert usages['self'].samples >= 2
    assert 'gone' not in usages
    assert procstat.total(usages)[1] > 0


def test_missing_pid_raises_proc_error() -> None:
    with pytest.raises(procstat.ProcError):
        procstat.read_rss_mb(2 ** 22 + 12345)


def test_cdr_decoding_of_string_and_stamp() -> None:
    text = 'two left'.encode()
    raw = b'\x00\x01\x00\x00' + struct.pack('<I', len(text) + 1) + text + b'\x00'
    assert _cdr_string(raw) == 'two left'
    stamped = b'\x00\x01\x00\x00' + struct.pack('<iI', 12, 500_000_000) + b'imu_link'
    assert _cdr_stamp(stamped) == pytest.approx(12.5)


def test_event_topic_names() -> None:
    assert _event_topic('labels/reps') == 'labels/reps'
    assert _event_topic('station3/labels/reps') == 'labels/reps'
    assert _event_topic('station3/reps') == 'reps'
    assert _event_topic('feedback') == 'feedback'
    assert _event_topic('imu/data_raw') is None


def test_target_check() -> None:
    target = Target('x', ('graph', 'cpu'), 15.0)
    assert target.check({'graph': {'cpu': 10.0}})['met'] is True
    assert target.check({'graph': {'cpu': 20.0}})['met'] is False
    assert target.check({'graph': {}})['met'] is None
    assert Target('y', ('v',), 500.0, at_most=False).check({'v': 600})['met'] is True


def test_machine_description_has_the_readme_fields() -> None:
    info = machine.describe(measure_busy=False)
    assert info['cpu_model'] and info['cores'] >= 1 and info['python']
    assert isinstance(machine.load_note(info), str)


def test_cli_quick_evaluation_json_has_the_documented_keys() -> None:
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.cli', 'bench', '--quick', '--only',
                           'evaluation', '--json'], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    result = json.loads(proc.stdout)
    # Exit 0 when the evaluation target is met, 1 when missed (it can be, on a busy machine).
    met = next(t['met'] for t in result['targets'] if 'evaluation' in t['name'])
    assert proc.returncode == (0 if met else 1), proc.stderr[-3000:]
    assert 'evaluation_x_realtime' in result
    assert result['evaluation']['sets'] >= 1
    assert result['machine']['cores'] >= 1
    names = {t['name'] for t in result['targets']}
    assert any('evaluation' in n for n in names)
    assert '[bench]' in proc.stderr  # progress on stderr, not mixed into the JSON


def test_cli_rejects_unknown_sections() -> None:
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.cli', 'bench', '--only', 'nope'],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert 'nope' in proc.stderr


def test_a_parameter_the_launcher_refuses_is_the_runs_error_not_a_traceback() -> None:
    # Launcher checks the overrides before anything starts; bench reports GraphBenchError.
    from rep_coach.benchmarks.graph import GraphBenchError, GraphConfig, run_graph
    with pytest.raises(GraphBenchError, match="parameter 'playback_speed' = 5000"):
        run_graph(GraphConfig(speed=5000.0, model='baseline'))


def _result(sections: list, **entries: object) -> dict:
    """Return a suite result of ``sections`` (``entries`` by name), its targets checked."""
    result = {'sections': sections, **entries}
    result['targets'] = [t.check(result) for t in TARGETS]
    return result


def test_exit_status_says_whether_every_target_asked_for_was_met() -> None:
    # Once 0 whatever happened, "not available" and "not measured" included.
    from rep_coach.benchmarks.suite import exit_status, not_available
    good = {'available': True, 'ours_p99_ms': 0.3}
    assert exit_status(_result(['inference'], inference=good)) == 0   # others not asked for
    slow = _result(['inference'], inference={**good, 'ours_p99_ms': 9.0})
    assert exit_status(slow) == 1
    gone = {'available': False, 'reason': 'bench_inference.py exited with 1: boom',
            'ours_p99_ms': None}
    assert not_available(_result(['inference'], inference=gone)) == [
        'inference: bench_inference.py exited with 1: boom',
        'target model update p99 (ours, ORT, 1 thread): not measured']
    assert exit_status(_result(['inference'], inference=gone)) == 3
    # A part of a section (the PyTorch cases without the train extra) counts too.
    part = {**good, 'torch': {'available': False, 'reason': "No module named 'torch'"}}
    assert not_available(_result(['inference'], inference=part)) == [
        "inference torch: No module named 'torch'"]
    assert exit_status(_result(['inference'], inference=part)) == 3
    # A missed target wins: it is the news.
    assert exit_status(_result(['inference', 'pose'], inference={**good, 'ours_p99_ms': 9.0},
                               pose=gone)) == 1
    evaluation = {'x_realtime': 600.0, 'learned': {'available': False, 'reason': 'no models'}}
    assert exit_status(_result(['evaluation'], evaluation=evaluation)) == 3
    assert exit_status(_result(['evaluation'], evaluation={'x_realtime': 600.0})) == 0
    # A graph measured on the baseline because the learned stages would not load: its
    # targets were met by stages the nodes do not run by default.  Once exit 0.
    graph = {'event_latency_p99_ms': 5.0, 'cpu_percent_total': 5.0, 'rss_mb_total': 300.0,
             'lost_reliable': 0, 'model': 'baseline', 'model_note': 'learned models '
             'unavailable (no models); measured the baseline stages'}
    assert not_available(_result(['graph'], graph=graph)) == [
        'graph: learned models unavailable (no models); measured the baseline stages']
    assert exit_status(_result(['graph'], graph=graph)) == 3
    assert exit_status(_result(['graph'], graph={**graph, 'model_note': None})) == 0


def test_inference_times_our_models_without_torch(tmp_path: Path) -> None:
    # Once: "inference: not available: ... No module named 'torch'", every target not
    # measured, exit 0.  Our models run in onnxruntime; only the reference needs torch.
    shim = tmp_path / 'torch'
    shim.mkdir()
    (shim / '__init__.py').write_text(
        "raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = {**os.environ,
           'PYTHONPATH': os.pathsep.join([str(tmp_path), os.environ.get('PYTHONPATH', '')])}
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.cli', 'bench', '--quick', '--only',
                           'inference', '--json'], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env)
    result = json.loads(proc.stdout)
    inference = result['inference']
    assert inference['available'] and inference['ours_p99_ms'] > 0, inference
    assert inference['stages']['segmenter']['ours_onnx_kb'] > 0
    assert inference['reference_p99_ms'] is None
    assert "No module named 'torch' (install rep_coach[train])" in \
        inference['torch']['reason']
    assert result['targets'][0]['met'] is not None
    assert proc.returncode == (1 if result['targets'][0]['met'] is False else 3)

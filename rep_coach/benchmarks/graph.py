"""
The node graph as separate processes over DDS, measured.

One run starts ``imu_publisher -> rep_segmenter -> near_failure_classifier ->
audio_feedback`` plus ``session_recorder`` with :class:`rep_coach.launcher.Launcher`
on loopback in a domain of its own, plays a simulated session, samples every
node's CPU time and RSS from ``/proc``, then reads the recorded bag.

The latencies are measured by a listener in the benchmark process itself (a
node of :mod:`rep_coach.runtime` subscribed to ``reps``, ``near_failure`` and
``feedback``), not from the bag: the recorder's own reception lags by up to a
flush (it closes and syncs a file every second), which is the recorder's
business, not the coaching path's; that lag is reported separately.

Latency definitions (one machine, one clock: ``imu_publisher`` stamps with the
node clock, which is the system time, and the listener takes its reception
time on the same clock):

* the *source time* of an IMU stamp ``s`` is when the sample was due to go out:
  ``s`` itself at real-time playback; at speed ``k`` the publisher keeps the
  recording's spacing in the stamps, so it is ``e + (s - e) / k`` with ``e`` the
  first sample's stamp;
* *rep event latency* = reception of the ``reps`` message by the listener -
  source time of the event's ``stamp`` (the sample whose arrival decided the
  rep): transport + processing, beyond the algorithmic delay;
* *algorithmic cue delay* = ``stamp - end`` (data time the segmenter waits after
  a rep ends before it can decide it), reported separately;
* *feedback latency* = reception of the ``feedback`` text - source time of the
  stamp of the rep that caused the cue (count, reps-in-reserve and stop cues;
  set summaries follow a rest timeout and are not latencies);
* *playback start latency* = ``play_start`` in the ``wav:DIR`` sink's
  ``index.jsonl`` (the clip handed over whole) - the same source time.

Reliable topics: every count that must match is compared (see
:func:`reliable_counts`); ``lost_reliable`` is the sum of the shortfalls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
import json
import os
from pathlib import Path
import re
import shutil
import struct
import sys
import tempfile
import threading
import time
from typing import Any, Dict, IO, List, Optional, Tuple

from rep_coach.benchmarks.procstat import ProcessSampler, total, Usage
from rep_coach.benchmarks.stats import latency_stats

#: The coaching nodes (CPU/RSS targets); the recorder is measured and reported too.
COACHING = ('imu_publisher', 'rep_segmenter', 'near_failure_classifier', 'audio_feedback')
RECORDER = 'session_recorder'
#: A cue is attributed to the rep received closest to it, at most this much after it
#: (reps are >= ~1 s apart, cues follow their rep within milliseconds).
CUE_MATCH_S = 0.5
#: Event topics read from the bag (labels/reps before reps: both end with "reps").
EVENT_TOPICS = ('labels/reps', 'reps', 'near_failure', 'feedback')
#: Topics the in-process listener hears.
HEARD_TOPICS = ('reps', 'near_failure', 'feedback')
#: Cue kinds that a rep (or its verdict) causes; summaries follow a rest timeout.
REP_TRIGGERED = ('rep', 'rir', 'stop')

_LOG_REP = re.compile(r'\[rep_segmenter\]: set \d+ rep \d+: .*cue delay')
_LOG_CUE = re.compile(r'\[audio_feedback\]: cue \[(\w+)\]: (.*)$')
_LOG_PUBLISHED = re.compile(r'\[imu_publisher\]: .* finished after (\d+) samples')
_LOG_BAG = re.compile(r'\[session_recorder\]: bag closed: .*\((\d+) messages in (\d+) '
                      r'file\(s\), (\d+) dropped\)')


class GraphBenchError(RuntimeError):
    """The graph could not be run or measured; the message says why."""


@dataclass
class GraphConfig:
    """What to run: the simulated session, its speed, and how to measure it."""

    speed: float = 1.0                 # playback speed; 1 = 100 Hz in real time
    sim_options: str = 'tail_s=10'     # extra sim:key=value options
    seed: int = 7
    sets: int = 1
    exercise: str = 'biceps_curl'
    model: Optional[str] = None        # learned/baseline; None = the parameter file's
    warmup_s: float = 5.0              # wall seconds after the first sample not measured
    sample_interval_s: float = 0.5     # /proc sampling period
    drain_s: float = 3.0               # wall seconds after the source ends
    timeout_s: float = 900.0           # safety stop
    keep_dir: Optional[Path] = None    # keep bag and cues here (default: a temp dir)
    echo_logs: bool = False            # copy node output to stderr
    progress: Optional[Any] = None     # callable(str) for progress lines

    @property
    def source(self) -> str:
        """Return the imu_publisher source spec."""
        return f'sim:{self.sim_options}' if self.sim_options else 'sim'


class LogCapture:
    """A file-like sink for the launcher's prefixed node output; keeps every line."""

    def __init__(self, echo: Optional[IO[str]] = None) -> None:
        self.lines: List[str] = []
        self.echo = echo
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        """Keep complete lines (the launcher writes one line plus newline per call)."""
        with self._lock:
            self.lines.extend(line for line in text.splitlines() if line)
        if self.echo is not None:
            self.echo.write(text)
        return len(text)

    def flush(self) -> None:
        """Flush the echo stream."""
        if self.echo is not None:
            self.echo.flush()

    def matching(self, pattern: 're.Pattern[str]') -> List['re.Match[str]']:
        """Return the matches of ``pattern`` over the lines so far."""
        with self._lock:
            lines = list(self.lines)
        return [m for m in (pattern.search(line) for line in lines) if m]


@dataclass
class Received:
    """One event message as the recorder received it."""

    recv: float                 # wall seconds, reception at the recorder
    data: Any                   # parsed JSON payload (dict) or the cue text


@dataclass
class GraphRun:
    """Everything measured in one run, before summarising."""

    config: GraphConfig
    launched_wall: float
    mono_to_wall: float                      # add to a monotonic time to get wall time
    pids: Dict[str, int]
    sampler: ProcessSampler
    imu_stamps: List[float]                  # header stamps of the IMU samples recorded
    imu_recv: List[float]
    topics: Dict[str, List[Received]]        # reps, near_failure, feedback, labels/reps
    heard: Dict[str, List[Received]]         # reps, near_failure, feedback at the listener
    cues: List[Dict[str, Any]]               # index.jsonl of the wav sink, by cue number
    logs: LogCapture
    exit_codes: Dict[str, List[int]]
    expected_labels: Optional[int]
    sim_duration_s: Optional[float]
    bag: Path
    workdir: Path
    model: str = ''
    model_note: Optional[str] = None

    def events(self, name: str) -> List[Received]:
        """Return ``name``'s messages as the listener heard them (the bag's if it heard none)."""
        return self.heard.get(name) or self.topics[name]

    @property
    def latency_source(self) -> str:
        """Say where reception times come from: 'listener' or 'recorder' (fallback)."""
        return 'listener' if self.heard.get('reps') else 'recorder'

    def source_time(self, stamp: float) -> float:
        """Return the wall time at which the sample stamped ``stamp`` was due."""
        if not self.imu_stamps:
            return stamp
        first = self.imu_stamps[0]
        return first + (stamp - first) / self.config.speed


class Listener:
    """
    A node in this process that notes when each event message arrives.

    Its callbacks only append (reception time, payload), so they add next to
    nothing to the time they measure; it spins in a daemon thread.
    """

    def __init__(self, domain_id: int) -> None:
        from rep_coach.nodes.common import event_qos
        from rep_coach.runtime import Node, rclpy, SingleThreadedExecutor
        from rep_coach.runtime.msg import String
        self._rclpy = rclpy
        # The listener must find the nodes: same domain, same discovery range.
        os.environ['ROS_LOCALHOST_ONLY'] = '1'
        os.environ.pop('ROS_AUTOMATIC_DISCOVERY_RANGE', None)
        self._owns_context = not rclpy.ok()
        if self._owns_context:
            rclpy.init(args=['rep_coach_bench'], domain_id=domain_id)
        self.node = Node(f'bench_listener_{os.getpid()}')
        self.heard: Dict[str, List[Received]] = {name: [] for name in HEARD_TOPICS}
        for name in HEARD_TOPICS:
            self.node.create_subscription(String, name, self._callback(name), event_qos())
        # An executor of its own holding the node throughout: the DDS runtime's
        # rclpy.spin_once(node) adds and removes the node per call, which drops the
        # samples it had already taken (seen: 4 of 9 feedback messages heard).
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='bench-listener', daemon=True)
        self._thread.start()

    def _callback(self, name: str) -> Any:
        heard = self.heard[name]

        def on_msg(msg: Any) -> None:
            heard.append(Received(time.time(), msg.data))
        return on_msg

    def _spin(self) -> None:
        while not self._stop.is_set() and self._rclpy.ok():
            try:
                self._executor.spin_once(timeout_sec=0.1)
            except Exception:  # noqa: B902 - shutdown races end the listener, not the run
                return

    def close(self) -> Dict[str, List[Received]]:
        """Stop listening; return what was heard, JSON payloads parsed."""
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._executor.shutdown()
        self.node.destroy_node()
        if self._owns_context:
            self._rclpy.try_shutdown()
        return {name: [Received(m.recv, m.data if name == 'feedback' else json.loads(m.data))
                       for m in msgs] for name, msgs in self.heard.items()}


def graph_env() -> Dict[str, str]:
    """Loopback only, on a DDS domain of its own so parallel runs never cross."""
    from rep_coach.launcher import isolated_env
    return isolated_env()


def expected_session(config: GraphConfig) -> Tuple[Optional[int], Optional[float]]:
    """Return (true reps, data seconds) of the simulated session the publisher plays."""
    from rep_coach.core.sim import SimConfig, simulate
    from rep_coach.core.sources import parse_spec
    try:
        _, _, options = parse_spec(config.source)
        base = SimConfig(seed=config.seed, exercise=config.exercise, sets=config.sets)
        rec = simulate(SimConfig.from_options(options, base=base))
    except Exception:  # noqa: B902 - only informative; the run reports it as unknown
        return None, None
    return (sum(len(s.reps) for s in rec.sets),
            float(rec.imu.t[-1] - rec.imu.t[0]) if len(rec.imu) else 0.0)


def learned_models_missing() -> Optional[str]:
    """Return why the learned models cannot be used here, or None when they can."""
    from rep_coach.paths import models_dir
    folder = models_dir()
    missing = [n for n in ('segmenter.onnx', 'near_failure.onnx') if not (folder / n).is_file()]
    if missing:
        return f'{", ".join(missing)} not found in {folder}'
    # Present is not enough: a model being retrained may not fit the code (seen: input
    # shapes), and the nodes would then refuse to start.  Load them as the nodes do.
    try:
        from rep_coach.pipeline import stage_factories   # the nodes' own factories
        make_segmenter, make_classifier = stage_factories('learned')
        make_segmenter()
        make_classifier()
    except Exception as exc:  # noqa: B902 - any failure means "not usable here"
        return f'the models in {folder} do not load: {exc}'
    return None


def resolve_model(requested: Optional[str]) -> Tuple[str, Optional[str]]:
    """
    Return (model to run, note): the learned models when present, else the baseline.

    An explicit ``learned`` request is honoured (and fails loudly at start-up if the
    models are absent); only the default falls back, and says so.
    """
    if requested:
        return requested, None
    why = learned_models_missing()
    if why is None:
        return 'learned', None
    return 'baseline', f'learned models unavailable ({why}); measured the baseline stages'


def run_graph(config: GraphConfig) -> GraphRun:
    """Run the graph on the simulated session and collect the raw measurements."""
    from rep_coach.launcher import IMU_READERS
    say = config.progress or (lambda text: None)
    workdir = Path(config.keep_dir) if config.keep_dir else Path(
        tempfile.mkdtemp(prefix='rep_coach_bench_graph_'))
    workdir.mkdir(parents=True, exist_ok=True)
    bag_dir, wav_dir = workdir / 'bags', workdir / 'cues'
    shutil.rmtree(bag_dir / 'bench', ignore_errors=True)
    expected_labels, sim_duration = expected_session(config)
    overrides: Dict[str, Dict[str, Any]] = {
        'imu_publisher': {'sim_seed': config.seed, 'sim_exercise': config.exercise,
                          'sim_sets': config.sets, 'playback_speed': config.speed,
                          'shutdown_when_done': True,
                          'wait_for_subscribers': IMU_READERS,
                          'start_delay_s': 30.0},
        'audio_feedback': {'sink': f'wav:{wav_dir}'},
        'session_recorder': {'bag_name': 'bench'},
    }
    model, note = resolve_model(config.model)
    if note:
        say(f'graph: {note}')
    overrides['rep_segmenter'] = {'model': model}
    overrides['near_failure_classifier'] = {'model': model}
    logs = LogCapture(sys.stderr if config.echo_logs else None)
    try:
        return _run(config, overrides, logs, workdir, expected_labels, sim_duration, model,
                    note)
    except BaseException:  # noqa: B902 (cleans up, re-raises)
        if config.keep_dir is None:   # a failed run leaves no temporary bag behind
            shutil.rmtree(workdir, ignore_errors=True)
        raise


def _run(config: GraphConfig, overrides: Dict[str, Dict[str, Any]], logs: LogCapture,
         workdir: Path, expected_labels: Optional[int], sim_duration: Optional[float],
         model: str, note: Optional[str]) -> GraphRun:
    """Launch, watch, stop and read back (the body of :func:`run_graph`)."""
    from rep_coach.launcher import Launcher, LaunchError, standard_graph
    from rep_coach.paths import default_params_file
    from rep_coach.runtime import rclpy as runtime
    say = config.progress or (lambda text: None)
    listener_ok = runtime.ok
    bag_dir, wav_dir = workdir / 'bags', workdir / 'cues'
    try:
        nodes = standard_graph(config.source, str(bag_dir), overrides)
    except LaunchError as exc:
        raise GraphBenchError(str(exc)) from exc
    env = graph_env()
    listener = Listener(int(env['ROS_DOMAIN_ID']))
    launcher = Launcher(nodes, params_file=default_params_file(), env=env, output=logs)
    mono_to_wall = time.time() - time.monotonic()
    launched_wall = time.time()
    sampler = ProcessSampler({}, interval_s=config.sample_interval_s)
    say(f'graph: launching {len(nodes)} nodes, {config.source} x{config.speed:g}'
        + (f' (~{sim_duration / config.speed:.0f} s of data)' if sim_duration else ''))
    try:
        launcher.start()
        pids = launcher.pids()
        sampler.pids.update(pids)
        sampler.start()
        deadline = time.monotonic() + config.timeout_s
        done_at: Optional[float] = None
        next_note = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            launcher.poll()
            if not launcher.alive('imu_publisher'):
                done_at = done_at or time.monotonic()
                if time.monotonic() - done_at >= config.drain_s:
                    break
            if not listener_ok():
                raise GraphBenchError('interrupted')
            if any(not launcher.alive(n) for n in pids if n != 'imu_publisher') \
                    and done_at is None:
                raise GraphBenchError(f'a node died: exit codes {launcher.exit_codes}; '
                                      f'last output: {logs.lines[-10:]}')
            if time.monotonic() >= next_note:
                next_note += 30.0
                say(f'graph: running, {time.time() - launched_wall:.0f} s')
            time.sleep(0.1)
        else:
            raise GraphBenchError(f'the session did not finish within {config.timeout_s:.0f} s')
    except LaunchError as exc:   # start() checks every parameter first: say which, no traceback
        raise GraphBenchError(str(exc)) from exc
    finally:
        sampler.stop()
        launcher.stop()
        heard = listener.close()
    bag = bag_dir / 'bench'
    imu_stamps, imu_recv, topics = read_session_bag(bag)
    return GraphRun(config=config, launched_wall=launched_wall, mono_to_wall=mono_to_wall,
                    pids=pids, sampler=sampler, imu_stamps=imu_stamps, imu_recv=imu_recv,
                    topics=topics, heard=heard, cues=read_cue_index(wav_dir / 'index.jsonl'),
                    logs=logs,
                    exit_codes=dict(launcher.exit_codes), expected_labels=expected_labels,
                    sim_duration_s=sim_duration, bag=bag, workdir=workdir, model=model,
                    model_note=note)


# -- reading the recording --------------------------------------------------------------------

def _cdr_string(raw: bytes) -> str:
    """Decode a std_msgs/String from CDR (4-byte encapsulation, uint32 length, bytes + NUL)."""
    little = raw[1] == 1
    (length,) = struct.unpack_from('<I' if little else '>I', raw, 4)
    return raw[8:8 + max(0, length - 1)].decode('utf-8')


def _cdr_stamp(raw: bytes) -> float:
    """Decode header.stamp of a message whose first field is a std_msgs/Header."""
    little = raw[1] == 1
    sec, nsec = struct.unpack_from('<iI' if little else '>iI', raw, 4)
    return sec + nsec * 1e-9


def _event_topic(name: str) -> Optional[str]:
    """Return which event topic a (possibly namespaced) topic name is, or None."""
    # labels/reps first: it also ends with "reps".
    for key in EVENT_TOPICS:
        if name == key or name.endswith('/' + key):
            return key
    return None


def read_session_bag(bag: Path
                     ) -> Tuple[List[float], List[float], Dict[str, List[Received]]]:
    """
    Return IMU stamps, IMU receptions and the event topics of a recorded session.

    Messages are decoded straight from CDR (raw mode): an hour at 100 Hz is 360 000
    IMU messages, which full deserialisation would take minutes to read.
    """
    from rep_coach.bagio import BagError, read_bag
    topics: Dict[str, List[Received]] = {name: [] for name in EVENT_TOPICS}
    stamps: List[float] = []
    recv: List[float] = []
    try:
        messages = read_bag(bag, raw=True, on_warning=lambda text: None)
        for topic, _, ts_ns, raw in messages:
            name = topic.lstrip('/')
            if name.endswith('imu/data_raw'):
                stamps.append(_cdr_stamp(raw))
                recv.append(ts_ns * 1e-9)
                continue
            key = _event_topic(name)
            if key is not None:
                text = _cdr_string(raw)
                data = text if key == 'feedback' else json.loads(text)
                topics[key].append(Received(ts_ns * 1e-9, data))
    except BagError as exc:
        raise GraphBenchError(f'the session was not recorded: {exc}') from exc
    order = sorted(range(len(stamps)), key=stamps.__getitem__)
    return [stamps[i] for i in order], [recv[i] for i in order], topics


def read_cue_index(path: Path) -> List[Dict[str, Any]]:
    """Return the wav sink's index lines sorted by cue number (empty when absent)."""
    if not path.is_file():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding='utf-8').splitlines()
               if line.strip()]
    return sorted(entries, key=lambda e: e.get('cue') or 0)


# -- summarising ------------------------------------------------------------------------------

def rep_latencies(run: GraphRun, t0: float = float('-inf'),
                  t1: float = float('inf')) -> List[float]:
    """Return rep event latencies (s) of reps whose source time is in ``[t0, t1]``."""
    out = []
    for msg in run.events('reps'):
        due = run.source_time(msg.data['stamp'])
        if t0 <= due <= t1:
            out.append(msg.recv - due)
    return out


def cue_triggers(run: GraphRun) -> List[Dict[str, Any]]:
    """
    Attribute each rep-triggered cue to its rep; return one record per such cue.

    The n-th ``feedback`` message is the n-th cue the node emitted (it publishes,
    then plays, in order), which is cue number n in the sink's index; the cue's
    rep is the one the recorder received closest before it (or just after, as the
    recorder and the audio node receive independently).
    """
    reps = run.events('reps')
    out = []
    index = {e.get('cue'): e for e in run.cues}
    for n, msg in enumerate(run.events('feedback'), start=1):
        entry = index.get(n)
        if entry is not None and entry.get('text') != msg.data:
            entry = None     # misaligned (a cue lost somewhere): do not guess the kind
        kind = entry.get('kind') if entry is not None else None
        if kind is not None and kind not in REP_TRIGGERED:
            continue
        candidates = [r for r in reps if r.recv <= msg.recv + CUE_MATCH_S]
        if not candidates:
            continue
        rep = min(candidates, key=lambda r: abs(r.recv - msg.recv))
        if abs(rep.recv - msg.recv) > CUE_MATCH_S and kind is None:
            continue     # most likely a set summary (no index to say so)
        due = run.source_time(rep.data['stamp'])
        play = entry.get('play_start') if entry is not None else None
        out.append({'kind': kind, 'text': msg.data, 'feedback_s': msg.recv - due,
                    'playback_s': None if play is None else play - due,
                    'sink_s': (None if play is None or entry.get('enqueued') is None
                               else play - entry['enqueued'])})
    return out


def recorder_lag(run: GraphRun) -> List[float]:
    """Return, per rep heard by both, recorder reception - listener reception (s)."""
    heard = {(m.data['set_index'], m.data['rep_index'], m.data['stamp']): m.recv
             for m in run.heard.get('reps', [])}
    return [m.recv - heard[key] for m in run.topics['reps']
            if (key := (m.data['set_index'], m.data['rep_index'], m.data.get('stamp')))
            in heard]


def reliable_counts(run: GraphRun) -> Dict[str, Any]:
    """
    Compare what each node says it published with what arrived; return the counts.

    * ``reps``: reps the segmenter logged as published vs ``reps`` in the bag;
    * ``near_failure``: one verdict per rep the segmenter published (the classifier
      answers every rep it receives) vs ``near_failure`` in the bag, so a loss on
      segmenter -> classifier or classifier -> recorder shows;
    * ``feedback``: cues audio_feedback logged as published vs ``feedback`` in the bag
      (cues logged "at shutdown" are not published);
    * ``labels``: true reps of the simulated session vs ``labels/reps`` in the bag.

    ``reps``, ``near_failure`` and ``feedback`` are also checked at the listener
    (``heard``), a second reliable reader; ``lost`` counts shortfalls at either.
    """
    published_reps = len(run.logs.matching(_LOG_REP))
    cues = [m for m in run.logs.matching(_LOG_CUE) if '(at shutdown)' not in m.group(2)]
    bag = {k: len(v) for k, v in run.topics.items()}
    pairs = {
        'reps': (published_reps, bag['reps']),
        'near_failure': (published_reps, bag['near_failure']),
        'feedback': (len(cues), bag['feedback']),
    }
    if run.expected_labels is not None:
        pairs['labels'] = (run.expected_labels, bag['labels/reps'])
    counts: Dict[str, Dict[str, Optional[int]]] = {}
    for key, (sent, recorded) in pairs.items():
        heard = len(run.heard[key]) if key in run.heard else None
        lost = max(0, sent - recorded) + (max(0, sent - heard) if heard is not None else 0)
        counts[key] = {'sent': sent, 'recorded': recorded, 'heard': heard, 'lost': lost}
    published_imu = [int(m.group(1)) for m in run.logs.matching(_LOG_PUBLISHED)]
    closed = run.logs.matching(_LOG_BAG)
    return {
        'topics': counts,
        'lost_reliable': sum(c['lost'] for c in counts.values()),
        # Best effort by design (sensor QoS): reported, not part of lost_reliable.
        'imu_published': published_imu[-1] if published_imu else None,
        'imu_recorded': len(run.imu_stamps),
        'recorder_dropped': int(closed[-1].group(3)) if closed else None,
    }


def steady_window(run: GraphRun) -> Tuple[float, float]:
    """Return the monotonic window [first sample + warm-up, last sample due]."""
    if not run.imu_stamps:
        return float('-inf'), float('inf')
    first = run.source_time(run.imu_stamps[0]) - run.mono_to_wall
    last = run.source_time(run.imu_stamps[-1]) - run.mono_to_wall
    start = min(first + run.config.warmup_s, last)
    return start, last


def summarize(run: GraphRun) -> Dict[str, Any]:
    """Return the graph figures of a run as a JSON-ready dict."""
    t0, t1 = steady_window(run)
    usages: Dict[str, Usage] = run.sampler.usage(t0, t1)
    cpu_total, rss_total = total(usages)
    cpu_coaching, rss_coaching = total(usages, COACHING)
    rep_lat = latency_stats(rep_latencies(run))
    nf_lat = latency_stats(m.recv - run.source_time(m.data['stamp'])
                           for m in run.events('near_failure'))
    triggers = cue_triggers(run)
    fb_lat = latency_stats(t['feedback_s'] for t in triggers)
    play_lat = latency_stats(t['playback_s'] for t in triggers)
    sink_lat = latency_stats(t['sink_s'] for t in triggers)
    algo = latency_stats(m.data['stamp'] - m.data['end'] for m in run.events('reps'))
    counts = reliable_counts(run)
    lag = latency_stats(recorder_lag(run))
    first_sample = run.source_time(run.imu_stamps[0]) if run.imu_stamps else None
    first_rep = min((m.recv for m in run.events('reps')), default=None)
    first_rep_due = min((run.source_time(m.data['stamp']) for m in run.events('reps')),
                        default=None)
    span = (run.imu_stamps[-1] - run.imu_stamps[0]) if len(run.imu_stamps) > 1 else None
    return {
        'speed': run.config.speed,
        'source': run.config.source,
        'model': run.model,
        'model_note': run.model_note,
        'data_seconds': None if span is None else round(span, 1),
        'imu_rate_hz': (None if not span else round((len(run.imu_stamps) - 1) / span, 1)),
        'startup': {
            # launch -> first IMU sample out: imports, models, DDS discovery, matching.
            'to_first_sample_s': _r(None if first_sample is None
                                    else first_sample - run.launched_wall),
            'to_first_event_s': _r(None if first_rep is None
                                   else first_rep - run.launched_wall),
            # the part of that spent waiting for the simulated lifter's first rep
            'first_event_data_s': _r(None if first_rep_due is None or first_sample is None
                                     else first_rep_due - first_sample),
        },
        'latency': {
            'rep_event': rep_lat.to_dict(),
            'near_failure': nf_lat.to_dict(),
            'feedback': fb_lat.to_dict(),
            'playback_start': play_lat.to_dict(),
            'sink_enqueue_to_start': sink_lat.to_dict(),
            # the recorder hears the same reps later (flushes); not on the coaching path
            'recorder_lag': lag.to_dict(),
        },
        'latency_source': run.latency_source,
        'algorithmic_cue_delay': algo.to_dict(),
        'event_latency_p99_ms': rep_lat.p99_ms,
        'feedback_latency_p99_ms': fb_lat.p99_ms,
        'playback_latency_p99_ms': play_lat.p99_ms,
        'window_s': _r(t1 - t0 if t1 > t0 else None),
        'nodes': {name: u.to_dict() for name, u in sorted(usages.items())},
        'cpu_percent_total': cpu_total,
        'rss_mb_total': rss_total,
        'cpu_percent_coaching': cpu_coaching,
        'rss_mb_coaching': rss_coaching,
        'counts': counts,
        'lost_reliable': counts['lost_reliable'],
        'exit_codes': run.exit_codes,
        'config': {k: v for k, v in asdict(run.config).items()
                   if k not in ('progress', 'keep_dir')},
    }


def _r(value: Optional[float], digits: int = 3) -> Optional[float]:
    return None if value is None else round(value, digits)


def measure_graph(config: GraphConfig) -> Dict[str, Any]:
    """Run and summarise; remove the temporary files unless ``keep_dir`` was given."""
    run = run_graph(config)
    try:
        return summarize(run)
    finally:
        if config.keep_dir is None:
            shutil.rmtree(run.workdir, ignore_errors=True)

"""
IMU sources behind one interface, chosen by a spec string, plus replay pacing.

Spec strings (the ``source`` parameter of ``imu_publisher``)::

    sim                                 simulator, options from the caller's defaults
    sim:exercise=hammer_curl,sets=2,seed=3   any SimConfig field (see rep_coach.core.sim)
    csv:PATH                            thomas2025 Trigno set file, or our CSV format
    bag:PATH                            rosbag2 directory with a sensor_msgs/msg/Imu topic
    mpu6050                             MPU-6050 on I2C; options bus, address, rate_hz,
    mpu6050:bus=1,address=0x68,rate_hz=100,accel_range_g=8,gyro_range_dps=1000,fifo=1

Our CSV format: optional ``#`` comment lines, then the header line
``t,ax,ay,az,gx,gy,gz``, then one row per sample: t in s, accel in m/s^2
(gravity included), gyro in rad/s.  A thomas2025 set file (``Raw Data/NAME.csv``
with ``rep_indexes_corrected.txt`` two levels up) also carries its labels.

Every source has ``rate_hz``, ``blocks()`` (ImuBlocks in time order on the
source's own timeline; for replayable sources each call starts again from the
beginning), ``labels()`` (true sets of reps known so far, or None), ``live``
(hardware pacing itself) and ``close()``.  Anything wrong raises
:class:`SourceError` naming the culprit (spec, option, file and line).

:class:`Pacer` turns a source into what a timer-driven publisher needs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import math
from pathlib import Path
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
import warnings

import numpy as np

from rep_coach import topics
from rep_coach.core import thomas2025
from rep_coach.core.sim import SimConfig, SimConfigError, SimStream
from rep_coach.core.types import ImuBlock, ImuRecording, PayloadError, RepLabel, SetLabels, \
    TrueRep
from rep_coach.core.units import DEG_TO_RAD
from rep_coach.core.validation import first_out_of_range, GateConfig

CSV_HEADER = ('t', 'ax', 'ay', 'az', 'gx', 'gy', 'gz')
IMU_MSGTYPE = 'sensor_msgs/msg/Imu'
STRING_MSGTYPE = 'std_msgs/msg/String'
#: Replay block length: small enough for pacing, large enough to be cheap.
REPLAY_BLOCK_S = 0.05


class SourceError(ValueError):
    """A source spec, option or file that cannot be used; the message names it."""


class ImuSource:
    """Base of all sources: samples in blocks, optional labels, explicit close."""

    name: str = 'source'
    rate_hz: float = 0.0
    live: bool = False        # True: the hardware paces the samples; no replay schedule

    def blocks(self) -> Iterator[ImuBlock]:
        """Yield the samples in time order (replayable sources restart on each call)."""
        raise NotImplementedError

    def labels(self) -> Optional[List[SetLabels]]:
        """Return the true sets of reps on the source timeline (known so far), or None."""
        return None

    def close(self) -> None:
        """Release files or devices."""

    def __enter__(self) -> 'ImuSource':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class RecordingSource(ImuSource):
    """Replays an in-memory recording (csv, bag, dataset set)."""

    def __init__(self, recording: ImuRecording, name: str) -> None:
        self.recording = recording
        self.name = name
        self.rate_hz = float(recording.rate_hz)
        self._block = max(1, int(round(REPLAY_BLOCK_S * self.rate_hz)))

    def blocks(self) -> Iterator[ImuBlock]:
        """Yield the recording in short blocks."""
        imu = self.recording.imu
        for i in range(0, len(imu), self._block):
            yield imu.slice(i, i + self._block)

    def labels(self) -> Optional[List[SetLabels]]:
        """Return the recording's sets, or None when it has none."""
        return self.recording.sets or None


class SimSource(ImuSource):
    """The simulator; each ``blocks()`` call restarts the same seeded session."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.name = f'sim:{config.exercise}'
        self.rate_hz = float(config.rate_hz)
        self._stream = SimStream(config)

    def blocks(self) -> Iterator[ImuBlock]:
        """Yield simulated blocks of ~50 ms."""
        self._stream = SimStream(self.config)
        return self._stream.blocks(max(1, int(round(REPLAY_BLOCK_S * self.rate_hz))))

    def labels(self) -> Optional[List[SetLabels]]:
        """Return the sets planned so far (a set's labels appear before its first sample)."""
        return self._stream.labels


class Mpu6050Source(ImuSource):
    """Live MPU-6050; each step of ``blocks()`` returns the samples available now."""

    live = True

    def __init__(self, **kwargs: Any) -> None:
        from rep_coach.core.mpu6050 import Mpu6050, Mpu6050Error
        try:
            self.device = Mpu6050(**kwargs)
        except Mpu6050Error as exc:
            raise SourceError(f'mpu6050: {exc}') from exc
        self.name = self.device.where
        self.rate_hz = self.device.rate_hz
        self._failed = False

    def blocks(self) -> Iterator[ImuBlock]:
        """
        Endless; yields an empty block when nothing new has arrived.

        After a read error, the next ``blocks()`` (the publisher's retry) configures
        the chip again before reading.
        """
        from rep_coach.core.mpu6050 import Mpu6050Error
        try:
            if self._failed:
                self.device.reconfigure()
                self._failed = False
            while True:
                yield self.device.read_block()
        except Mpu6050Error as exc:
            self._failed = True
            raise SourceError(str(exc)) from exc

    def close(self) -> None:
        """Put the chip to sleep and close the bus."""
        self.device.close()


# -- spec parsing --------------------------------------------------------------------------
def parse_spec(spec: str) -> Tuple[str, str, Dict[str, str]]:
    """
    Split ``kind[:rest]`` into (kind, path, options).

    ``sim`` and ``mpu6050`` take ``key=value`` options after the colon; ``csv`` and
    ``bag`` take a path (which may itself contain ``:`` or ``,``).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SourceError(f'source spec {spec!r} is empty; expected sim, csv:PATH, bag:PATH '
                          'or mpu6050')
    kind, _, rest = spec.strip().partition(':')
    kind = kind.strip().lower()
    if kind in ('csv', 'bag'):
        if not rest.strip():
            raise SourceError(f'source spec {spec!r}: {kind} needs a path, e.g. {kind}:PATH')
        return kind, rest.strip(), {}
    if kind in ('sim', 'mpu6050'):
        options: Dict[str, str] = {}
        for item in filter(None, (p.strip() for p in rest.split(','))):
            key, eq, value = item.partition('=')
            if not eq or not key.strip():
                raise SourceError(f'source spec {spec!r}: option {item!r} is not key=value')
            options[key.strip()] = value.strip()
        return kind, '', options
    raise SourceError(f'source spec {spec!r}: unknown kind {kind!r}; expected sim, csv:PATH, '
                      'bag:PATH or mpu6050')


def check_spec(spec: str) -> None:
    """
    Raise SourceError for a spec whose options are wrong, opening nothing.

    What can be told without the file or the device: the kind, a path given, and the
    options of ``sim`` (the simulator's configuration) and ``mpu6050`` (names, values).
    Used before a graph starts, so a mistyped option stops it there, not in the node.
    """
    kind, _, options = parse_spec(spec)
    if kind == 'sim':
        try:
            SimConfig.from_options(options)
        except SimConfigError as exc:
            raise SourceError(f'source spec {spec!r}: {exc}') from None
    elif kind == 'mpu6050':
        _mpu_options(spec, options, {})


def open_source(spec: str, sim_defaults: Optional[SimConfig] = None,
                mpu_defaults: Optional[Dict[str, Any]] = None,
                on_warning: Optional[Callable[[str], None]] = None) -> ImuSource:
    """
    Open the source a spec names; spec options override the given defaults.

    ``sim_defaults`` carries the node's ``sim_*`` parameters; ``mpu_defaults``
    the keyword arguments of :class:`~rep_coach.core.mpu6050.Mpu6050` from its
    ``i2c_*`` / range parameters (``bus``, ``address``, ``rate_hz``, ...).
    ``on_warning`` takes the one-line report of damage a bag source recovers from
    (see :func:`read_session_bag`).
    """
    kind, path, options = parse_spec(spec)
    if kind == 'sim':
        try:
            return SimSource(SimConfig.from_options(options, base=sim_defaults))
        except SimConfigError as exc:
            raise SourceError(f'source spec {spec!r}: {exc}') from None
    if kind == 'csv':
        return RecordingSource(read_csv(Path(path)), name=f'csv:{path}')
    if kind == 'bag':
        return RecordingSource(read_imu_bag(Path(path), on_warning), name=f'bag:{path}')
    return Mpu6050Source(**_mpu_options(spec, options, mpu_defaults or {}))


_MPU_OPTIONS: Dict[str, Callable[[str], Any]] = {
    'bus': int, 'address': lambda v: int(v, 0), 'rate_hz': float, 'accel_range_g': int,
    'gyro_range_dps': int, 'dlpf_cfg': int,
    'fifo': lambda v: {'1': True, 'true': True, '0': False, 'false': False}[v.lower()]}


def _mpu_options(spec: str, options: Dict[str, str],
                 defaults: Dict[str, Any]) -> Dict[str, Any]:
    kwargs = dict(defaults)
    for key, value in options.items():
        if key not in _MPU_OPTIONS:
            raise SourceError(f'source spec {spec!r}: unknown mpu6050 option {key!r}; known: '
                              f'{", ".join(sorted(_MPU_OPTIONS))}')
        try:
            kwargs['use_fifo' if key == 'fifo' else key] = _MPU_OPTIONS[key](value)
        except (KeyError, ValueError):
            raise SourceError(f'source spec {spec!r}: mpu6050 option {key}={value!r} is '
                              'not valid') from None
    return kwargs


# -- CSV ---------------------------------------------------------------------------------
def read_csv(path: Path) -> ImuRecording:
    """Read a thomas2025 Trigno set file (with its labels when findable) or our CSV."""
    if not path.is_file():
        raise SourceError(f'{path}: no such file')
    try:
        with path.open(encoding='utf-8', errors='replace') as handle:
            head = [handle.readline() for _ in range(40)]
    except OSError as exc:
        raise SourceError(f'{path}: cannot read ({exc.strerror or exc})') from None
    if any('ACC X' in line for line in head):
        return _read_trigno(path)
    return read_our_csv(path)


def _read_trigno(path: Path) -> ImuRecording:
    data_dir = path.parent.parent
    try:
        if path.parent.name == thomas2025.RAW_DIR and \
                (data_dir / thomas2025.REP_INDEX_FILE).is_file():
            indexes = thomas2025.read_rep_indexes(data_dir / thomas2025.REP_INDEX_FILE)
            if path.stem in indexes:
                rec = thomas2025.load_set(data_dir, path.stem, indexes)
                rec.meta['source'] = 'thomas2025'
                return rec
        block, rate = thomas2025.read_trigno_csv(path)
    except thomas2025.DatasetError as exc:
        raise SourceError(str(exc)) from None
    return ImuRecording(name=path.stem, imu=block, rate_hz=rate, meta={'source': 'trigno'})


def write_our_csv(path: Path, block: ImuBlock, comment: str = '') -> None:
    """Write ``block`` in our CSV format (the inverse of :func:`read_our_csv`)."""
    with Path(path).open('w', encoding='utf-8', newline='') as handle:
        for line in comment.splitlines():
            handle.write(f'# {line}\n')
        handle.write(','.join(CSV_HEADER) + '\n')
        data = np.column_stack([block.t, block.accel, block.gyro])
        np.savetxt(handle, data, delimiter=',', fmt='%.9g')


def read_our_csv(path: Path) -> ImuRecording:
    """Read ``t,ax,ay,az,gx,gy,gz`` (s, m/s^2, rad/s); errors name file and line."""
    rows: List[List[float]] = []
    lines: List[int] = []          # the file line of each row, to name a culprit
    header_seen = False
    try:
        with path.open(newline='', encoding='utf-8') as handle:
            for line_no, row in enumerate(csv.reader(handle), start=1):
                if not row or not ''.join(row).strip() or row[0].lstrip().startswith('#'):
                    continue
                if not header_seen:
                    names = tuple(c.strip().lower() for c in row)
                    if names != CSV_HEADER:
                        raise SourceError(f'{path}:{line_no}: expected the header '
                                          f'"{",".join(CSV_HEADER)}", got {",".join(row)!r}')
                    header_seen = True
                    continue
                if len(row) != len(CSV_HEADER):
                    raise SourceError(f'{path}:{line_no}: expected {len(CSV_HEADER)} values, '
                                      f'got {len(row)} (truncated or garbled row)')
                try:
                    values = [float(c) for c in row]
                except ValueError:
                    raise SourceError(f'{path}:{line_no}: non-numeric value in '
                                      f'{",".join(row)!r}') from None
                if not math.isfinite(values[0]):
                    raise SourceError(f'{path}:{line_no}: time is not finite')
                # float() takes nan and inf; one such sample would poison the stages'
                # filters for the rest of the set (the nodes' gate drops it live).
                bad = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
                if bad is not None:
                    raise SourceError(f'{path}:{line_no}: {CSV_HEADER[bad]} is '
                                      f'{row[bad].strip()!r}, not a finite number')
                rows.append(values)
                lines.append(line_no)
    except UnicodeDecodeError as exc:
        raise SourceError(f'{path}: not a text CSV ({exc.reason})') from None
    except OSError as exc:
        raise SourceError(f'{path}: cannot read ({exc.strerror or exc})') from None
    if not header_seen:
        raise SourceError(f'{path}: empty; expected the header "{",".join(CSV_HEADER)}"')
    if not rows:
        raise SourceError(f'{path}: header but no samples')
    data = np.asarray(rows)
    block = ImuBlock(data[:, 0], data[:, 1:4], data[:, 4:7])
    culprit = first_out_of_range(block.accel, block.gyro)
    if culprit is not None:
        # The nodes' sample gate would drop it; in a file it is damage, named like a NaN.
        row, col = culprit
        value, limits = data[row, col + 1], GateConfig()
        hint = ('; in deg/s? this format wants rad/s' if col >= 3
                and abs(value) * DEG_TO_RAD <= limits.max_gyro else '')
        raise SourceError(f'{path}:{lines[row]}: {CSV_HEADER[col + 1]} is {value:g} '
                          f'{"m/s^2" if col < 3 else "rad/s"}, beyond what an IMU measures '
                          f'({limits.limits()}){hint}')
    return ImuRecording(name=path.stem, imu=block, rate_hz=_rate(block.t), meta={'source': 'csv'})


def _rate(t: np.ndarray) -> float:
    """Median sample rate of increasing stamps (0 when it cannot be told)."""
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(1.0 / np.median(dt)) if len(dt) else 0.0


# -- bags --------------------------------------------------------------------------------
def _bag_messages(path: Path, on_warning: Optional[Callable[[str], None]] = None
                  ) -> Iterator[Tuple[str, str, int, Any]]:
    """
    Yield (topic, msgtype, timestamp_ns, message) from rep_coach.bagio, else rosbags.

    ``on_warning`` is :func:`~rep_coach.bagio.reader.read_bag`'s: None warns.
    """
    try:
        from rep_coach.bagio.reader import read_bag
    except ImportError:
        read_bag = None
    if read_bag is not None:
        yield from read_bag(path, on_warning=on_warning)
        return
    from rosbags.highlevel import AnyReader   # fallback while bagio is not installed
    from rosbags.typesys import get_typestore, Stores
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
        conns = [c for c in reader.connections if c.msgtype in (IMU_MSGTYPE, STRING_MSGTYPE)]
        for conn, ts, raw in reader.messages(connections=conns):
            yield conn.topic, conn.msgtype, ts, reader.deserialize(raw, conn.msgtype)


#: Key of a bag recording's ``meta``: why each ``labels/reps`` message that does not
#: decode was left out (its rep is unlabelled).
BAD_LABELS = 'undecodable_labels'

#: The nodes' output topics a session bag's recorded detections are read from, and the
#: stage nodes' descriptions of what produced them.
PUBLISHED_TOPICS = (topics.REPS, topics.NEAR_FAILURE, topics.STAGE_INFO)


@dataclass
class SessionBag:
    """A bag as :func:`read_session_bag` reads it: the IMU recording and the nodes' output."""

    recording: ImuRecording
    #: Namespace of the IMU topic (``/`` the root); None when that topic has no rep_coach
    #: name, so no node output can be told to belong to it.
    namespace: Optional[str]
    #: String payloads of the nodes' output topics (:data:`PUBLISHED_TOPICS`) in that
    #: namespace, by relative name, in the bag's order; a name without messages is absent.
    published: Dict[str, List[str]] = field(default_factory=dict)


def read_imu_bag(path: Path, on_warning: Optional[Callable[[str], None]] = None
                 ) -> ImuRecording:
    """
    Read a bag's IMU topic (``imu/data_raw`` preferred) and any ``labels/reps``.

    Sample times are the messages' ``header.stamp``; labels are the TrueRep JSON
    of a ``.../labels/reps`` String topic, grouped by set.  ``on_warning`` is
    :func:`read_session_bag`'s.
    """
    return read_session_bag(path, on_warning).recording


def no_messages(path: Path, topic_names: Optional[List[str]] = None) -> str:
    """
    Say that the bag ``path`` gave no message (none on ``topic_names``, when given).

    One wording for every command that reads a bag (evaluate, plot, play): a bag whose
    files hold nothing readable is an error, not an empty success.
    """
    if topic_names:
        return f'{path}: no messages on {", ".join(topic_names)}'
    return f'{path}: empty bag (no messages)'


def read_session_bag(path: Path, on_warning: Optional[Callable[[str], None]] = None
                     ) -> SessionBag:
    """
    Read a bag as :func:`read_imu_bag` does, keeping what the nodes published too.

    The ``reps``, ``near_failure`` and ``stage_info`` payloads are kept undecoded from the
    IMU topic's namespace only: a bag of several stations' topics must not pair one station's
    detections with another's IMU and labels.  Damage the reader recovers from (a truncated
    file: which file, what was lost; ``labels/reps`` messages that do not decode, left out)
    goes to ``on_warning`` as one line each (a node's logger, say); without it, it is a
    :class:`~rep_coach.bagio.BagRecoveryWarning`.  The recording's ``meta['topics']`` are
    the topics messages were read from (metadata.yaml's counts can outlive a cut file), and
    ``meta[BAD_LABELS]`` says why each label left out does not decode.
    """
    if not path.exists():
        raise SourceError(f'{path}: no such bag')
    imu: Dict[str, List[Tuple[float, ...]]] = {}
    reps: List[TrueRep] = []
    seen: Dict[str, int] = {}
    bad_labels: List[str] = []
    published: Dict[Tuple[str, str], List[str]] = {}
    try:
        for topic, msgtype, _, msg in _bag_messages(path, on_warning):
            seen[topic] = seen.get(topic, 0) + 1
            if msgtype == IMU_MSGTYPE:
                st = msg.header.stamp
                a, w = msg.linear_acceleration, msg.angular_velocity
                imu.setdefault(topic, []).append((st.sec + st.nanosec * 1e-9, a.x, a.y, a.z,
                                                  w.x, w.y, w.z))
            elif msgtype == STRING_MSGTYPE and topic.rstrip('/').endswith('labels/reps'):
                try:
                    reps.append(TrueRep.from_json(msg.data))
                except PayloadError as exc:
                    # A label we cannot read must not stop the replay, but its rep goes
                    # unscored: said below, not dropped unseen.
                    bad_labels.append(str(exc))
            elif msgtype == STRING_MSGTYPE:
                split = topics.split_topic(topic)
                if split is not None and split[1] in PUBLISHED_TOPICS:
                    published.setdefault(split, []).append(msg.data)
    except SourceError:
        raise
    except Exception as exc:  # noqa: B902 - BagReadError, rosbags errors, I/O: name the bag
        raise SourceError(f'{path}: cannot read bag ({exc})') from None
    if not seen:
        raise SourceError(no_messages(path))
    if bad_labels:
        text = (f'{path}: {len(bad_labels)} labels/reps message(s) cannot be decoded and are '
                f'left out, their reps unlabelled (first: {bad_labels[0]})')
        if on_warning is not None:
            on_warning(text)
        else:
            from rep_coach.bagio.errors import BagRecoveryWarning
            warnings.warn(text, BagRecoveryWarning, stacklevel=2)
    if not imu:
        raise SourceError(f'{path}: no {IMU_MSGTYPE} topic with messages (it has '
                          f'{", ".join(f"{n} on {t}" for t, n in sorted(seen.items()))})')
    preferred = [tp for tp in imu if tp.rstrip('/').endswith('imu/data_raw')]
    if len(imu) > 1 and len(preferred) != 1:
        raise SourceError(f'{path}: several IMU topics ({", ".join(sorted(imu))}); '
                          'expected exactly one named .../imu/data_raw')
    topic = preferred[0] if preferred else next(iter(imu))
    data = np.asarray(imu[topic])
    data = data[np.argsort(data[:, 0], kind='stable')]
    block = ImuBlock(data[:, 0], data[:, 1:4], data[:, 4:7])
    recording = ImuRecording(name=path.name, imu=block, rate_hz=_rate(block.t),
                             sets=_group_reps(reps),
                             meta={'source': 'bag', 'topic': topic, 'topics': list(seen),
                                   BAD_LABELS: bad_labels})
    namespace = topics.topic_prefix(topic)
    return SessionBag(recording, namespace,
                      {name: payloads for (ns, name), payloads in published.items()
                       if ns == namespace})


def _group_reps(reps: List[TrueRep]) -> List[SetLabels]:
    by_set: Dict[int, List[TrueRep]] = {}
    for rep in reps:
        by_set.setdefault(rep.set_index, []).append(rep)
    return [SetLabels([RepLabel(r.start, r.end, r.peak, r.rpe, r.rir)
                       for r in sorted(by_set[k], key=lambda r: r.rep_index)])
            for k in sorted(by_set)]


# -- pacing ------------------------------------------------------------------------------
@dataclass
class Due:
    """What a publisher should send now: samples (stamped on its clock) and true reps."""

    block: ImuBlock
    reps: List[TrueRep] = field(default_factory=list)
    done: bool = False          # finite source exhausted (and not looping)


class Pacer:
    """
    Releases a source's samples on schedule, for a timer-driven publisher.

    Stamps: sample ``t`` of the source goes out stamped
    ``epoch + (t - t_first) + loop_offset``: the replay starts at ``epoch`` (the
    node passes its clock's now) and keeps the recording's spacing at any speed,
    so rep durations are preserved.  With ``loop``, each pass continues one
    sample period after the previous one ended.  Labels get the same shift and
    come out once the released samples pass their ``end``; sets are numbered
    on across loops.

    Schedule: with ``speed`` > 0 the sample ``t`` is due at monotonic time
    ``start + (t - t_first) / speed`` (absolute, so timer jitter never accumulates
    into drift); ``speed == 0`` releases up to ``max_block`` samples per call.
    A late call releases everything due, at most ``max_block`` (the rest follows
    on the next calls).  Live sources are read once per call, unpaced.
    """

    def __init__(self, source: ImuSource, speed: float = 1.0, epoch: float = 0.0,
                 loop: bool = False, clock: Callable[[], float] = time.monotonic,
                 start: Optional[float] = None, max_block: Optional[int] = None) -> None:
        if not (speed >= 0 and math.isfinite(speed)):
            raise ValueError(f'speed={speed!r}: must be >= 0')
        self.source = source
        self.speed = float(speed)
        self.epoch = float(epoch)
        self.loop = loop
        self._clock = clock
        self._start = clock() if start is None else float(start)
        self.max_block = max_block or max(1, int(round(source.rate_hz or 100.0)))
        self._it = iter(source.blocks())
        self._buf = ImuBlock.empty()
        self._sched = np.zeros(0)          # schedule time of each buffered sample
        self._shift = 0.0                  # schedule - source time, after backward steps
        self._t_read: Optional[float] = None   # source time of the newest sample read
        self._t_first: Optional[float] = None
        self._offset = 0.0               # added to (t - t_first): previous passes' length
        self._set_base = 0                # sets of previous passes
        self._pass_sets = 0                 # sets of the current pass
        self._label_pos: Tuple[int, int] = (0, 0)
        self._exhausted = False
        self._t_sent: Optional[float] = None   # last released source time of this pass

    def _fill(self, until: float, enough: Optional[int] = None) -> None:
        """Read until a buffered sample is after ``until`` (or ``enough`` are held) or the end."""
        while not self._exhausted and (not len(self._buf) or self._sched[-1] <= until) \
                and (enough is None or len(self._buf) < enough):
            try:
                block = next(self._it)
            except StopIteration:
                self._exhausted = True
                return
            if self._t_first is None and len(block):
                self._t_first = float(block.t[0])
            self._buf = ImuBlock.concat([self._buf, block])
            self._sched = np.concatenate((self._sched, self._schedule(block.t)))
            if self.source.live:
                return

    def due(self, now: Optional[float] = None) -> Due:
        """Return the samples and labels due at monotonic time ``now`` (default: clock)."""
        now = self._clock() if now is None else now
        if self.source.live:
            self._fill(math.inf)
            n = len(self._buf)
        else:
            if self.speed == 0:
                target = math.inf
                # As fast as the graph takes it: read only what the next block needs,
                # plus one sample to know whether the source ends with it (reading the
                # whole source here cost time quadratic in its length).
                self._fill(math.inf, enough=self.max_block + 1)
            else:
                base = self._t_first if self._t_first is not None else 0.0
                elapsed = max(0.0, now - self._start)
                if self._t_first is None:
                    self._fill(-math.inf)
                    base = self._t_first if self._t_first is not None else 0.0
                target = base + elapsed * self.speed - self._offset
                self._fill(target)
            n = int(np.searchsorted(self._sched, target, side='right')) if len(self._buf) \
                else 0
            n = min(n, self.max_block)
        out = self._buf.slice(0, n)
        self._buf = self._buf.slice(n)
        self._sched = self._sched[n:]
        if len(out):
            self._t_sent = float(out.t[-1])
        reps = self._due_labels()
        stamped = ImuBlock(self._stamp(out.t), out.accel, out.gyro)
        done = self._exhausted and not len(self._buf)
        if done and self.loop and not self.source.live and self._t_first is not None:
            self._restart()
            done = False
        return Due(stamped, reps, done)

    def _schedule(self, t: np.ndarray) -> np.ndarray:
        """
        Return when samples ``t`` are due, on a timeline that never goes back.

        A recording whose clock stepped back (a device reset) keeps its stamps, but
        is paced as if one sample period had passed, not released in one burst.
        """
        if not len(t):
            return np.zeros(0)
        period = 1.0 / self.source.rate_hz if self.source.rate_hz else 0.0
        prev = np.concatenate(([t[0] if self._t_read is None else self._t_read], t[:-1]))
        step = np.where(t < prev, prev - t + period, 0.0)
        shift = self._shift + np.cumsum(step)
        self._shift = float(shift[-1])
        self._t_read = float(t[-1])
        return t + shift

    def _stamp(self, t: np.ndarray) -> np.ndarray:
        if self._t_first is None:
            return t
        return self.epoch + self._offset + (t - self._t_first)

    def _due_labels(self) -> List[TrueRep]:
        labels = self.source.labels() or []
        if self._t_sent is None:
            return []
        out = []
        set_i, rep_i = self._label_pos
        while set_i < len(labels):
            reps = labels[set_i].reps
            if rep_i >= len(reps):
                if set_i + 1 >= len(labels):
                    break
                set_i, rep_i = set_i + 1, 0
                continue
            rep = reps[rep_i]
            if rep.end > self._t_sent:
                break
            shift = self.epoch + self._offset - (self._t_first or 0.0)
            out.append(TrueRep(set_index=self._set_base + set_i + 1, rep_index=rep_i + 1,
                               start=rep.start + shift, end=rep.end + shift,
                               peak=None if rep.peak is None else rep.peak + shift,
                               rpe=rep.rpe, rir=rep.rir))
            rep_i += 1
        self._label_pos = (set_i, rep_i)
        self._pass_sets = len(labels)
        return out

    def _restart(self) -> None:
        """Begin the next pass right after the previous one."""
        period = 1.0 / self.source.rate_hz if self.source.rate_hz else 0.0
        self._offset += (self._t_sent or 0.0) - (self._t_first or 0.0) + period
        self._set_base += self._pass_sets
        self._label_pos = (0, 0)
        self._t_first = None
        self._t_sent = None
        self._t_read = None
        self._shift = 0.0
        self._exhausted = False
        self._it = iter(self.source.blocks())

"""
Data exchanged between the stages of rep_coach, and their wire payloads.

Every stage of the pipeline (IMU source, rep segmenter, near-failure classifier,
coaching policy) speaks in these dataclasses.  Nodes carry the events over
``std_msgs/String`` topics as JSON objects; ``to_json`` / ``from_json`` are the
single place where that payload is defined, so the README's payload table, the
nodes, the recorder and the evaluation all agree.

Units follow REP-103: seconds, m/s^2, rad/s.  Times are absolute seconds on the
IMU's timeline (the ``header.stamp`` of the samples).
"""  # noqa: A005 (a submodule of rep_coach: shadows nothing)

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import json
import math
from typing import Any, Dict, List, Optional

import numpy as np

#: Schema version carried in every JSON payload, bumped on incompatible change.  Adding
#: an optional field is compatible (readers ignore unknown keys and default missing
#: ones), so ``RepEvent.signal`` did not bump it.
PAYLOAD_VERSION = 1

#: Channels of a rep's raw signal: accel x, y, z (m/s^2, gravity included), gyro x, y, z
#: (rad/s), REP-103.
REP_SIGNAL_CHANNELS = 6
#: Rest without reps (s) after which the next rep opens a new set (the rest as
#: :func:`opens_new_set` measures it).  One default for both segmenters, the coach, the
#: nodes and the evaluation, so a replay scores what a live station does.  Longer than
#: any pause inside a set of the shared data (reps there follow each other without
#: rest), shorter than a rest between sets (a minute or more), and short enough that
#: the coach's set summary follows soon after the last rep.
SET_REST_S = 8.0
#: Points per channel of a rep's raw signal (the rep linearly resampled to this length).
REP_SIGNAL_POINTS = 64
#: Decimals kept of a rep's signal: 1e-4 m/s^2 and 1e-4 rad/s are below one count of
#: an MPU-6050 at its finest ranges (6e-4 m/s^2 at 2 g, 1.3e-4 rad/s at 250 deg/s),
#: and they keep the ``reps`` payload at about 3 kB.
REP_SIGNAL_DECIMALS = 4


def opens_new_set(last_end: Optional[float], start: float,
                  set_rest_s: float = SET_REST_S) -> bool:
    """
    Tell whether a rep starting at ``start`` opens a new set.

    The rest is what a lifter means by the rest between sets: from the end of the
    last rep (``last_end``; None before any rep, which opens the first set) to the
    start of this one.  A rest of ``set_rest_s`` or more opens a new set.  Both
    segmenters decide by this one rule, so ``set_rest_s`` means the same for either
    (the learned one once measured end to end, which counted the rep's own
    duration as rest).
    """
    return last_end is None or start - last_end >= set_rest_s


class PayloadError(ValueError):
    """A JSON event payload that cannot be decoded."""


@dataclass
class ImuBlock:
    """
    A block of consecutive IMU samples (N >= 0) in SI units.

    ``t`` is (N,) seconds, strictly increasing; ``accel`` is (N, 3) m/s^2
    including gravity; ``gyro`` is (N, 3) rad/s.
    """

    t: np.ndarray
    accel: np.ndarray
    gyro: np.ndarray

    def __post_init__(self) -> None:
        self.t = np.asarray(self.t, dtype=np.float64).reshape(-1)
        self.accel = np.asarray(self.accel, dtype=np.float64).reshape(-1, 3)
        self.gyro = np.asarray(self.gyro, dtype=np.float64).reshape(-1, 3)
        n = self.t.shape[0]
        if self.accel.shape[0] != n or self.gyro.shape[0] != n:
            raise ValueError(
                f'ImuBlock: t has {n} samples but accel has {self.accel.shape[0]} '
                f'and gyro {self.gyro.shape[0]}')

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def empty(cls) -> 'ImuBlock':
        """Return a block with no samples."""
        return cls(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)))

    @classmethod
    def concat(cls, blocks: List['ImuBlock']) -> 'ImuBlock':
        """Join blocks in order."""
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return cls.empty()
        return cls(np.concatenate([b.t for b in blocks]),
                   np.concatenate([b.accel for b in blocks]),
                   np.concatenate([b.gyro for b in blocks]))

    def slice(self, start: int, stop: Optional[int] = None) -> 'ImuBlock':  # noqa: A003 (API)
        """Return samples ``start:stop`` as a new block."""
        return ImuBlock(self.t[start:stop], self.accel[start:stop], self.gyro[start:stop])


@dataclass
class RepLabel:
    """Ground truth of one repetition (from a dataset or the simulator)."""

    start: float
    end: float
    peak: Optional[float] = None  # end of the concentric (lifting) half
    rpe: Optional[float] = None   # 1..10, RIR-based scale
    rir: Optional[int] = None     # reps in reserve, when known directly


@dataclass
class SetLabels:
    """
    Ground truth of one set: its reps in order.

    ``edges_from_recording``: the first rep's start and the last rep's end were placed
    by where the recording starts and stops, not by the lift (thomas2025: halfway
    through the rest before the first lift and after the last lowering; see
    :mod:`rep_coach.training.label_convention`).  Every other boundary is the lift's.
    """

    reps: List[RepLabel] = field(default_factory=list)
    edges_from_recording: bool = False


@dataclass
class ImuRecording:
    """A whole recorded or simulated session: samples plus optional labels."""

    name: str
    imu: ImuBlock
    rate_hz: float
    sets: List[SetLabels] = field(default_factory=list)
    subject: Optional[str] = None
    meta: Dict[str, Any] = field(default_factory=dict)


def quantize_signal(signal: np.ndarray) -> np.ndarray:
    """
    Round a rep signal to :data:`REP_SIGNAL_DECIMALS` (float64).

    The segmenters' cut and the payload encoder both round with this, so an event
    decoded from its JSON carries bit for bit the signal the segmenter computed.
    """
    return np.round(np.asarray(signal, dtype=np.float64), REP_SIGNAL_DECIMALS)


def _signal_from_payload(value: Any) -> Optional[np.ndarray]:
    """Decode a ``signal`` payload value; ValueError says what is wrong with it."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f'expected a list of {REP_SIGNAL_CHANNELS} lists, '
                         f'got {type(value).__name__}')
    try:
        # No dtype: strings, booleans and nulls then show as a non-numeric dtype
        # instead of being converted.
        array = np.array(value)
    except ValueError as exc:   # ragged nesting
        raise ValueError(f'not {REP_SIGNAL_CHANNELS} lists of equal length ({exc})') from exc
    if array.dtype.kind not in 'iuf':
        raise ValueError(f'values must be numbers, got {array.dtype.kind!r} data')
    if array.shape != (REP_SIGNAL_CHANNELS, REP_SIGNAL_POINTS):
        raise ValueError(f'shape must be ({REP_SIGNAL_CHANNELS}, {REP_SIGNAL_POINTS}), '
                         f'got {array.shape}')
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError('values must be finite')
    return array


def _require_finite(what: str, **times: float) -> None:
    """
    Raise PayloadError naming the first non-finite time field.

    json.loads takes NaN and Infinity; a stamp like that would poison every clock and
    comparison downstream (the coach's data clock never moves past Infinity).
    """
    for name, value in times.items():
        if not math.isfinite(value):
            raise PayloadError(f'{what} payload: {name!r} must be finite, got {value!r}')


#: Largest set or rep index a payload may carry: the coach speaks counts below a million
#: (``number_to_words``), and no session has a million sets or a set of a million reps.
MAX_INDEX = 999_999


def _index(data: Dict[str, Any], name: str) -> int:
    """
    Return the 1-based index ``data[name]``; ValueError when it is not one.

    ``int()`` alone took 1.7 as 1, ``true`` as 1 and -5 or 10**30 as they are: a rep
    numbered 10**7 then left the coach unable to say its count, with its set's state
    half updated, so every later rep of the set was taken for a repeat and dropped.
    """
    index = _integer(data, name)
    if not 1 <= index <= MAX_INDEX:
        raise ValueError(f'{name!r} must be within 1..{MAX_INDEX}, got {data[name]!r}')
    return index


def _integer(data: Dict[str, Any], name: str) -> int:
    """Return ``data[name]`` as an integer (2 or 2.0); ValueError for 2.5 or true."""
    value = data[name]
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f'{name!r} must be an integer, got {value!r}')
    return int(value)


def _optional_integer(data: Dict[str, Any], name: str) -> Optional[int]:
    """Return :func:`_integer` of ``data[name]``, or None when it is absent or null."""
    return None if data.get(name) is None else _integer(data, name)


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class RepEvent:
    """
    A repetition detected by the segmenter.

    ``stamp`` is the time of the IMU sample whose arrival produced the decision,
    so ``stamp - end`` is the algorithmic cue delay.  ``signal`` is the rep's raw
    IMU signal over ``[start, end]`` on the 100 Hz grid, linearly resampled to
    ``(REP_SIGNAL_CHANNELS, REP_SIGNAL_POINTS)``: accel x, y, z (m/s^2, gravity
    included) then gyro x, y, z (rad/s), rounded to ``REP_SIGNAL_DECIMALS``; stage 2
    reads it instead of the IMU stream.  None when absent (events from before the
    field existed, or a segmenter that holds no samples of the rep).
    """

    set_index: int             # 1-based set counter since start-up
    rep_index: int             # 1-based rep counter within the set
    start: float
    end: float
    stamp: float
    peak: Optional[float] = None
    features: Dict[str, float] = field(default_factory=dict)
    # Left out of ==: an array comparison has no single truth value; two events are
    # the same rep by their times and features.
    signal: Optional[np.ndarray] = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        """Encode as the ``reps`` topic payload (a non-finite signal is sent as null)."""
        payload = asdict(self)
        payload['peak'] = _finite_or_none(self.peak)
        payload['features'] = {k: _finite_or_none(v) for k, v in self.features.items()}
        signal = None if self.signal is None else quantize_signal(self.signal)
        payload['signal'] = (signal.tolist() if signal is not None and np.isfinite(signal).all()
                             else None)
        payload['v'] = PAYLOAD_VERSION
        return json.dumps(payload, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str) -> 'RepEvent':
        """Decode a ``reps`` payload; raises PayloadError naming what is wrong."""
        data = _load(text, 'rep event')
        try:
            event = cls(set_index=_index(data, 'set_index'),
                        rep_index=_index(data, 'rep_index'), start=float(data['start']),
                        end=float(data['end']), stamp=float(data['stamp']),
                        peak=None if data.get('peak') is None else float(data['peak']),
                        features={k: float('nan') if v is None else float(v)
                                  for k, v in dict(data.get('features') or {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f'rep event payload: bad or missing field ({exc!r})') from exc
        _require_finite('rep event', start=event.start, end=event.end, stamp=event.stamp)
        if event.end < event.start:
            # The coach measures the rest from a rep's end: one ending before it started
            # split the set and restarted the count.
            raise PayloadError(f"rep event payload: 'end' {event.end!r} is before "
                               f"'start' {event.start!r}")
        try:
            event.signal = _signal_from_payload(data.get('signal'))
        except ValueError as exc:
            raise PayloadError(f"rep event payload: bad 'signal': {exc}") from exc
        return event


#: The top reps-in-reserve class, meaning "this many or more": estimates are 0..RIR_PLUS,
#: so a true reserve is compared (and trained) as at most this.
RIR_PLUS = 3


def rir_class(rir: int) -> int:
    """Return the reps-in-reserve class of a true reserve (``RIR_PLUS`` stands for more)."""
    return min(RIR_PLUS, int(rir))


@dataclass
class NearFailureState:
    """
    The classifier's verdict after a repetition.

    ``rir`` is the estimated reps in reserve (0, 1, 2, or 3 meaning 3+), or None
    when the classifier does not estimate it.
    """

    set_index: int
    rep_index: int
    stamp: float
    probability: float
    near_failure: bool
    rir: Optional[int] = None

    def to_json(self) -> str:
        """Encode as the ``near_failure`` topic payload."""
        payload = asdict(self)
        payload['probability'] = _finite_or_none(self.probability)
        payload['v'] = PAYLOAD_VERSION
        return json.dumps(payload, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str) -> 'NearFailureState':
        """Decode a ``near_failure`` payload; raises PayloadError naming what is wrong."""
        data = _load(text, 'near-failure state')
        try:
            prob = data['probability']
            state = cls(set_index=_index(data, 'set_index'),
                        rep_index=_index(data, 'rep_index'), stamp=float(data['stamp']),
                        probability=float('nan') if prob is None else float(prob),
                        near_failure=_boolean(data, 'near_failure'),
                        # int() read a reserve of 2.5 as 2: a number no classifier gives
                        rir=_optional_integer(data, 'rir'))
            # bool('no') is True, and a probability of 5 or a reserve of -5 was acted
            # on: each made the coach speak a warning no classifier gave.
            if not (math.isnan(state.probability) or 0.0 <= state.probability <= 1.0):
                raise ValueError(f"'probability' must be within [0, 1], got {prob!r}")
            if state.rir is not None and not 0 <= state.rir <= RIR_PLUS:
                raise ValueError(f"'rir' must be within 0..{RIR_PLUS}, got {data['rir']!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(
                f'near-failure payload: bad or missing field ({exc!r})') from exc
        _require_finite('near-failure', stamp=state.stamp)
        return state


@dataclass
class TrueRep:
    """A ground-truth rep as published on ``labels/reps`` by a labelled source."""

    set_index: int
    rep_index: int
    start: float
    end: float
    peak: Optional[float] = None
    rpe: Optional[float] = None
    rir: Optional[int] = None

    def to_json(self) -> str:
        """Encode as the ``labels/reps`` topic payload."""
        payload = asdict(self)
        payload['v'] = PAYLOAD_VERSION
        return json.dumps(payload, separators=(',', ':'))

    @classmethod
    def from_json(cls, text: str) -> 'TrueRep':
        """Decode a ``labels/reps`` payload."""
        data = _load(text, 'true rep')
        try:
            return cls(set_index=_index(data, 'set_index'),
                       rep_index=_index(data, 'rep_index'),
                       start=float(data['start']), end=float(data['end']),
                       peak=None if data.get('peak') is None else float(data['peak']),
                       rpe=None if data.get('rpe') is None else float(data['rpe']),
                       rir=_optional_integer(data, 'rir'))
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f'true rep payload: bad or missing field ({exc!r})') from exc


def _boolean(data: Dict[str, Any], name: str) -> bool:
    """Return the JSON boolean ``data[name]``; ValueError for anything else ("no", 0.5)."""
    value = data[name]
    if not isinstance(value, bool):
        raise ValueError(f'{name!r} must be true or false, got {value!r}')
    return value


def _load(text: str, what: str) -> Dict[str, Any]:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f'{what} payload is not JSON: {exc}') from exc
    except RecursionError as exc:
        # '[[[[...' thousands deep: not a PayloadError, it escaped the readers that skip
        # bad payloads (rep-coach evaluate, the session summary) and ended them.
        raise PayloadError(f'{what} payload is not JSON: nested too deeply') from exc
    if not isinstance(data, dict):
        raise PayloadError(f'{what} payload is not a JSON object')
    return data

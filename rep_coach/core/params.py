"""
Every node parameter: name, default, meaning and validity, in one table.

This table is the single source of parameters: nodes declare exactly these (with
these defaults), ``config/rep_coach.yaml`` must list exactly these, and the README
parameter table is checked against it by the tests.  Validation happens once at
start-up; a bad value raises :class:`ParameterError` naming the parameter, and the
node stops with that message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from rep_coach.core.sim.exercises import EXERCISES
from rep_coach.core.types import SET_REST_S

Check = Callable[[Any], Optional[str]]


class ParameterError(ValueError):
    """A parameter value that is not allowed; the message names the parameter."""

    def __init__(self, node: str, name: str, value: Any, reason: str) -> None:
        super().__init__(f"{node}: parameter '{name}' = {value!r} is invalid: {reason}")
        self.node = node
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class ParamSpec:
    """One declared parameter."""

    name: str
    default: Any
    description: str
    check: Optional[Check] = None

    def validate(self, node: str, value: Any) -> Any:
        """Return ``value`` if it is valid, else raise ParameterError."""
        expected = type(self.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ParameterError(node, self.name, value,
                                 f'expected {expected.__name__}, got {type(value).__name__}')
        if self.check is not None:
            reason = self.check(value)
            if reason:
                raise ParameterError(node, self.name, value, reason)
        return value


def in_range(low: Optional[float] = None, high: Optional[float] = None,
             low_open: bool = False, high_open: bool = False) -> Check:
    """Check that a number lies in [low, high]; ``low_open``/``high_open`` exclude an end."""
    def check(value: Any) -> Optional[str]:
        if value != value:  # NaN compares unequal to itself
            return 'must be a number, not NaN'
        if low is not None and (value <= low if low_open else value < low):
            return f'must be {">" if low_open else ">="} {low}'
        if high is not None and (value >= high if high_open else value > high):
            return f'must be {"<" if high_open else "<="} {high}'
        return None
    return check


def one_of(*choices: str) -> Check:
    """Check that a string is one of ``choices``."""
    def check(value: Any) -> Optional[str]:
        return None if value in choices else f'must be one of {", ".join(choices)}'
    return check


def prefixed(*prefixes: str) -> Check:
    """Check that a string is one of ``prefixes`` or starts with ``prefix:``."""
    def check(value: Any) -> Optional[str]:
        kinds = [p.rstrip(':') for p in prefixes]
        kind = value.split(':', 1)[0]
        if kind not in kinds:
            return f'must start with one of {", ".join(prefixes)}'
        if value.endswith(':'):
            return f'{kind}: needs a value after the colon'
        return None
    return check


def non_empty(value: Any) -> Optional[str]:
    """Check that a string is not empty."""
    return None if value.strip() else 'must not be empty'


def topic_list(value: Any) -> Optional[str]:
    """Check a list of relative topic names."""
    if not value:
        return 'must name at least one topic'
    bad = [t for t in value if not t or t.startswith('/') or ' ' in t]
    return f'not relative topic names: {bad}' if bad else None


SOURCE_KINDS = ('sim', 'csv:', 'bag:', 'mpu6050')
MODEL_KINDS = ('baseline', 'learned')

#: Every form audio_feedback's ``sink`` takes; ``rep_coach.audio.make_sink`` builds each.
#: A form with ``:NAME`` needs a value there (``aplay:plughw:1,0``, ``wav:/tmp/cues``); one
#: without takes none.  This table is the rule: the node's parameter check, make_sink and
#: ``rep-coach demo --audio`` all go through :func:`parse_sink`.
SINK_SPECS = ('auto', 'null', 'aplay', 'aplay:DEVICE', 'pw-play', 'sounddevice',
              'sounddevice:DEVICE', 'wav:DIR')
#: The forms as written before any value: 'auto', 'aplay', 'aplay:', 'wav:' ...
_SINK_FORMS = frozenset(''.join(form.partition(':')[:2]) for form in SINK_SPECS)


def parse_sink(spec: str) -> Tuple[str, str]:
    """
    Split a ``sink`` spec into its kind and its value (``''`` if none).

    Raises ValueError listing the valid forms when ``spec`` is none of them.
    """
    kind, colon, value = spec.partition(':')
    # 'aplay:DEVICE' admits 'aplay:' and a value, 'null' exactly 'null'.
    if (f'{kind}:' if colon else kind) in _SINK_FORMS and (value or not colon):
        return kind, value
    raise ValueError(f'must be one of {", ".join(SINK_SPECS)}')


def sink_spec(value: Any) -> Optional[str]:
    """Check a ``sink`` spec by :func:`parse_sink`."""
    try:
        parse_sink(value)
    except ValueError as exc:
        return str(exc)
    return None


NODE_PARAMS: Dict[str, Tuple[ParamSpec, ...]] = {
    'imu_publisher': (
        ParamSpec('source', 'sim', 'IMU source: sim[:key=value,...], csv:PATH, bag:PATH or '
                  'mpu6050', prefixed(*SOURCE_KINDS)),
        ParamSpec('frame_id', 'imu_link', 'header.frame_id of every Imu message', non_empty),
        ParamSpec('publish_rate_hz', 100.0, 'rate of the publishing timer; replayed samples '
                  'due since the last tick go out together', in_range(1.0, 1000.0)),
        ParamSpec('playback_speed', 1.0, 'replay speed for sim/csv/bag: 1 = real time, '
                  '0 = as fast as the graph takes it', in_range(0.0, 1000.0)),
        ParamSpec('start_delay_s', 1.0, 'wait before the first sample so subscribers match; '
                  'with wait_for_subscribers, the longest wait', in_range(0.0, 60.0)),
        ParamSpec('wait_for_subscribers', 0, 'before the first sample, wait (up to '
                  'start_delay_s) until this many readers match imu/data_raw', in_range(0, 64)),
        ParamSpec('loop', False, 'restart a finished replay from its beginning'),
        ParamSpec('shutdown_when_done', False, 'exit once a finite source is exhausted'),
        ParamSpec('publish_labels', True, 'publish ground-truth reps on labels/reps when '
                  'the source has them'),
        ParamSpec('sim_seed', 7, 'simulator seed (same seed, same session)', in_range(0)),
        ParamSpec('sim_exercise', 'biceps_curl', 'simulated exercise: ' + ', '.join(EXERCISES),
                  one_of(*EXERCISES)),
        ParamSpec('sim_sets', 1, 'number of simulated sets to failure', in_range(1, 100)),
        ParamSpec('sim_rate_hz', 100.0, 'simulated IMU sample rate', in_range(10.0, 1000.0)),
        ParamSpec('i2c_bus', 1, 'MPU-6050 I2C bus number (/dev/i2c-N)', in_range(0, 255)),
        ParamSpec('i2c_address', 104, 'MPU-6050 I2C address (104 = 0x68, 105 = 0x69)',
                  in_range(0, 127)),
        ParamSpec('mpu6050_rate_hz', 100.0, 'MPU-6050 sample rate', in_range(4.0, 1000.0)),
        ParamSpec('accel_range_g', 8, 'MPU-6050 accelerometer full scale: 2, 4, 8 or 16 g',
                  lambda v: None if v in (2, 4, 8, 16) else 'must be 2, 4, 8 or 16'),
        ParamSpec('gyro_range_dps', 1000, 'MPU-6050 gyro full scale: 250, 500, 1000 or '
                  '2000 deg/s', lambda v: None if v in (250, 500, 1000, 2000)
                  else 'must be 250, 500, 1000 or 2000'),
        ParamSpec('linear_acceleration_stddev', 0.0, 'accelerometer noise (m/s^2) for the '
                  'covariance diagonal; 0 = unknown', in_range(0.0)),
        ParamSpec('angular_velocity_stddev', 0.0, 'gyro noise (rad/s) for the covariance '
                  'diagonal; 0 = unknown', in_range(0.0)),
    ),
    'rep_segmenter': (
        # The default is whichever stage measures better held out (docs/models.md):
        # the learned ensemble (better on every segmentation metric since v9).
        ParamSpec('model', 'learned', 'stage-1 implementation: baseline (signal processing) '
                  'or learned (ONNX)', one_of(*MODEL_KINDS)),
        ParamSpec('models_dir', '', 'directory of the ONNX models; empty = the installed '
                  'share/rep_coach/models'),
        # The rest as a lifter means it, the same for both models (core.types.opens_new_set).
        ParamSpec('set_rest_s', SET_REST_S, 'rest between sets, from the end of a rep to the '
                  'start of the next: a rest this long or longer opens a new set',
                  in_range(1.0, 600.0)),
    ),
    'near_failure_classifier': (
        # Learned: on the learned segmenter's reps it is level with the velocity-loss
        # rule on F1 and better at reps in reserve, held out (docs/models.md).
        ParamSpec('model', 'learned', 'stage-2 implementation: baseline (velocity loss) or '
                  'learned (ONNX)', one_of(*MODEL_KINDS)),
        ParamSpec('models_dir', '', 'directory of the ONNX models; empty = the installed '
                  'share/rep_coach/models'),
        # Open at both ends: 0 would flag every rep and 1 none (the baseline refuses both).
        ParamSpec('threshold', 0.5, 'probability at or above which a rep is near failure',
                  in_range(0.0, 1.0, low_open=True, high_open=True)),
    ),
    'audio_feedback': (
        ParamSpec('sink', 'auto', f'audio output: {", ".join(SINK_SPECS)} (auto: aplay on a '
                  'sound card, else pw-play on PipeWire, else none; wav:DIR writes '
                  'NNNN_kind.wav and index.jsonl, numbering on after the files an earlier '
                  'session left in DIR, which are kept)', sink_spec),
        ParamSpec('rep_cue', 'count', 'per-rep cue: count (spoken number) or tone',
                  one_of('count', 'tone')),
        ParamSpec('target_rir', 1, 'reps in reserve at which the stop cue sounds',
                  in_range(0, 3)),
        # rep_segmenter's set_rest_s, measured the same way; the summary cannot wait for the
        # next rep's start, so it comes when the rest could have reached set_rest_s
        # (core.coaching: a rep already under way then reopens the set).
        ParamSpec('set_rest_s', SET_REST_S, 'rest between sets, from the end of a rep to the '
                  "start of the next (as rep_segmenter's): the set is summarised once this "
                  'long has passed in IMU time since the end of its last rep',
                  in_range(1.0, 600.0)),
        ParamSpec('confidence', 0.7, 'classifier probability needed to speak reps in reserve',
                  in_range(0.0, 1.0)),
        ParamSpec('voice', 'en', 'espeak-ng voice', non_empty),
        ParamSpec('speech_rate', 175, 'espeak-ng words per minute', in_range(80, 450)),
        ParamSpec('volume', 100, 'espeak-ng amplitude 0-200', in_range(0, 200)),
        ParamSpec('tone_hz', 880.0, 'frequency of the rep tone', in_range(100.0, 8000.0)),
    ),
    'session_recorder': (
        ParamSpec('bag_dir', 'rep_coach_bags', 'directory in which each session bag is '
                  'created (owner-only permissions)', non_empty),
        ParamSpec('bag_name', '', 'bag directory name; empty = '
                  'rep_coach_<station>_<date>_<time> (numbered if taken)'),
        ParamSpec('topics', ['imu/data_raw', 'labels/reps', 'reps', 'near_failure', 'feedback',
                             'diagnostics', 'form/events', 'form/cues', 'stage_info'],
                  'relative topics to record', topic_list),
        ParamSpec('flush_interval_s', 1.0, 'seconds between flushes; a killed recorder '
                  'loses at most this much', in_range(0.1, 60.0)),
        ParamSpec('max_file_duration_s', 900.0, 'start a new MCAP file of the bag after this '
                  'many seconds (as ros2 bag record --max-bag-duration)', in_range(1.0, 86400.0)),
        ParamSpec('max_file_size_mb', 256, 'start a new MCAP file of the bag once it reaches '
                  'this many MiB (as ros2 bag record --max-bag-size)', in_range(1, 1_000_000)),
    ),
    'form_coach': (
        ParamSpec('exercise', 'front_squat', 'lift to judge: front_squat, back_squat, '
                  'deadlift, bench_press or biceps_curl',
                  one_of('front_squat', 'back_squat', 'deadlift', 'bench_press',
                         'biceps_curl')),
        ParamSpec('backend', 'mediapipe', 'pose backend: mediapipe (Tasks, with presence) or '
                  'mediapipe-legacy', one_of('mediapipe', 'mediapipe-legacy')),
        ParamSpec('publish_landmarks', True, 'publish the 33 smoothed landmarks of every frame'),
    ),
}


def specs_for(node: str) -> Tuple[ParamSpec, ...]:
    """Return the parameter table of ``node``; KeyError names unknown nodes."""
    try:
        return NODE_PARAMS[node]
    except KeyError:
        raise KeyError(f'no parameter table for node {node!r}') from None


def validate_all(node: str, values: Dict[str, Any]) -> Dict[str, Any]:
    """
    Validate a name -> value mapping against ``node``'s table; return it typed.

    Names that the table does not know are rejected, so a mistyped parameter in a
    YAML file is caught instead of silently ignored.
    """
    specs = {s.name: s for s in specs_for(node)}
    unknown = sorted(set(values) - set(specs))
    if unknown:
        raise ParameterError(node, unknown[0], values[unknown[0]],
                             f'unknown parameter (known: {", ".join(sorted(specs))})')
    return {name: spec.validate(node, values.get(name, spec.default))
            for name, spec in specs.items()}


def defaults(node: str) -> Dict[str, Any]:
    """Return ``{name: default}`` for ``node``."""
    return {s.name: s.default for s in specs_for(node)}


def all_nodes() -> List[str]:
    """Names of the nodes that have a parameter table."""
    return list(NODE_PARAMS)


def list_type(value: Sequence[Any]) -> str:
    """Human name of a parameter's type for documentation."""
    if isinstance(value, bool):
        return 'bool'
    if isinstance(value, (list, tuple)):
        return 'string[]'
    return {int: 'int', float: 'double', str: 'string'}[type(value)]

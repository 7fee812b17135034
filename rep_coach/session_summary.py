"""What happened in a recorded session, read back from its bag."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

from rep_coach import topics
from rep_coach.bagio import read_bag
from rep_coach.core.types import NearFailureState, PayloadError, RepEvent, TrueRep


@dataclass
class SessionSummary:
    """Counts and cues of a session bag."""

    bag: str
    reps_true: Optional[int]
    reps_detected: int
    near_failure_rep: Optional[int]
    cues: List[str] = field(default_factory=list)
    imu_samples: int = 0
    messages: Dict[str, int] = field(default_factory=dict)
    bad_payloads: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)


def _relative(topic: str, namespace: str) -> str:
    prefix = '/' + namespace.strip('/') + '/' if namespace.strip('/') else '/'
    return topic[len(prefix):] if topic.startswith(prefix) else topic.lstrip('/')


def summarize_bag(path: Path, namespace: str = '') -> SessionSummary:
    """Read a session bag and summarise it (true and detected reps, cues)."""
    true_reps: List[TrueRep] = []
    reps: List[RepEvent] = []
    states: List[NearFailureState] = []
    cues: List[str] = []
    counts: Dict[str, int] = {}
    bad = 0
    decoders = {topics.TRUE_REPS: (TrueRep.from_json, true_reps),
                topics.REPS: (RepEvent.from_json, reps),
                topics.NEAR_FAILURE: (NearFailureState.from_json, states)}
    for msg in read_bag(path):
        name = _relative(msg.topic, namespace)
        counts[name] = counts.get(name, 0) + 1
        if name in decoders:
            decode, sink = decoders[name]
            try:
                sink.append(decode(msg.message.data))
            except PayloadError:
                bad += 1
        elif name == topics.FEEDBACK:
            cues.append(msg.message.data)
    first_flag = next((s.rep_index for s in states if s.near_failure), None)
    return SessionSummary(bag=str(path),
                          reps_true=len(true_reps) if counts.get(topics.TRUE_REPS) else None,
                          reps_detected=len(reps), near_failure_rep=first_flag, cues=cues,
                          imu_samples=counts.get(topics.IMU, 0), messages=counts,
                          bad_payloads=bad)

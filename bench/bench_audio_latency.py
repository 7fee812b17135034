#!/usr/bin/env python3
"""
Measure cue latency, event to playback start, for every audio sink usable here.

For each sink (``null``, ``wav:<tmp>``, ``aplay:null`` when aplay exists,
``sounddevice`` when PortAudio has an output device, and ``auto``) and each
kind of cue (a tone, pre-rendered speech, speech rendered on demand), a rep
event goes through :class:`CoachingPolicy` and :class:`AudioCuePlayer`; the
latency is from just before ``policy.on_rep`` to the moment the sink hands the
audio over (``PlayContext.mark_start``).  Events are spaced so that no cue waits
behind another (superseding is a policy choice, not latency).

Usage: ``python bench/bench_audio_latency.py [--n 20] [--interval 0.1] [--json]``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

import numpy as np

try:
    import rep_coach  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rep_coach.audio import AudioCuePlayer, EspeakTTS, make_sink, NullSink  # noqa: E402
from rep_coach.core.coaching import (CoachingConfig, CoachingPolicy,  # noqa: E402
                                     number_to_words)
from rep_coach.core.types import RepEvent  # noqa: E402

TARGET_MS = 50.0


def _sinks(tmpdir: str) -> List[str]:
    specs = ['null', f'wav:{tmpdir}']
    if shutil.which('aplay'):
        specs.append('aplay:null')
    specs += ['sounddevice', 'auto']
    return specs


def measure(spec: str, mode: str, n: int, interval: float, tts: Optional[EspeakTTS],
            first_number: int) -> Dict[str, Any]:
    """Run ``n`` rep events through policy and player; return latency statistics."""
    warnings: List[str] = []
    sink = make_sink(spec, warnings.append)
    degraded = isinstance(sink, NullSink) and not spec.startswith('null')
    rep_cue = 'tone' if mode == 'tone' else 'count'
    if degraded:
        sink.close()
        return {'sink': spec, 'effective': 'unavailable', 'degraded': True, 'cue': mode,
                'n': 0, 'p50_ms': None, 'p95_ms': None, 'max_ms': None, 'errors': 0,
                'superseded': 0, 'within_50ms': None, 'warnings': warnings}
    policy = CoachingPolicy(CoachingConfig(rep_cue=rep_cue, set_rest_s=1e6))
    player = AudioCuePlayer(sink, tts if mode != 'tone' else None,
                            logger=warnings.append)
    events: Dict[int, float] = {}
    numbers = list(range(first_number, first_number + n))
    if mode == 'speech-cached' and tts is not None:
        tts.prerender([number_to_words(i) for i in numbers], background=False)
    # In the uncached mode, counts start at ``first_number`` so each phrase is new.
    for k, i in enumerate(numbers):
        t_event = time.monotonic()
        for cue in policy.on_rep(RepEvent(1, i, k - 1.0, float(k), float(k)), float(k)):
            events[id(cue)] = t_event
            player.play(cue)
        player.wait_idle(5.0)
        time.sleep(interval)
    player.close()
    lat_ms = [1000.0 * (c.start_mono - events[id(c.cue)]) for c in player.history
              if c.start_mono is not None and id(c.cue) in events]
    arr = np.asarray(lat_ms) if lat_ms else np.asarray([np.nan])
    return {
        'sink': spec, 'effective': sink.describe(), 'degraded': degraded, 'cue': mode,
        'n': len(lat_ms), 'p50_ms': float(np.nanpercentile(arr, 50)),
        'p95_ms': float(np.nanpercentile(arr, 95)), 'max_ms': float(np.nanmax(arr)),
        'errors': player.stats.errors, 'superseded': player.stats.superseded,
        'within_50ms': bool(np.nanmax(arr) <= TARGET_MS) if lat_ms else False,
        'warnings': warnings,
    }


def main(argv: Optional[List[str]] = None) -> int:
    """Run the benchmark; print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--n', type=int, default=20, help='events per sink and cue kind')
    parser.add_argument('--interval', type=float, default=0.05,
                        help='idle seconds between events')
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    args = parser.parse_args(argv)
    tts = EspeakTTS(logger=lambda msg: None)
    modes = ['tone'] + (['speech-cached', 'speech-uncached'] if tts.available else [])
    rows: List[Dict[str, Any]] = []
    first = 31
    with tempfile.TemporaryDirectory(prefix='rep_coach_bench_') as tmp:
        for spec in _sinks(tmp):
            for mode in modes:
                # A fresh TTS per run for 'uncached', so every phrase is rendered on demand.
                engine = EspeakTTS(logger=lambda msg: None) if mode != 'tone' else None
                rows.append(measure(spec, mode, args.n, args.interval, engine, first))
                first += args.n
    if args.json:
        print(json.dumps({'target_ms': TARGET_MS, 'espeak_ng': tts.available,
                          'results': rows}, indent=2))
        return 0
    head = f'{"sink":<14} {"effective":<26} {"cue":<16} {"n":>3} {"p50 ms":>8} ' \
           f'{"p95 ms":>8} {"max ms":>8} {"err":>4}  <=50ms'
    print(head)
    print('-' * len(head))
    for r in rows:
        if r['n'] == 0:
            if r['cue'] == modes[0]:
                print(f'{r["sink"]:<14} {"unavailable (see note)":<26}')
            continue
        spec = r['sink'] if not r['sink'].startswith('wav:') else 'wav:<tmp>'
        eff = r['effective'] if not r['effective'].startswith('wav:') else 'wav:<tmp>'
        eff = eff.replace('/usr/bin/', '') + (' (degraded)' if r['degraded'] else '')
        print(f'{spec:<14} {eff[:26]:<26} {r["cue"]:<16} {r["n"]:>3} {r["p50_ms"]:>8.2f} '
              f'{r["p95_ms"]:>8.2f} {r["max_ms"]:>8.2f} {r["errors"]:>4}  '
              f'{"yes" if r["within_50ms"] else "NO"}')
    notes = sorted({w for r in rows for w in r['warnings']})
    for note in notes:
        print(f'note: {note}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""
Audio feedback: tones (numpy), cached espeak-ng speech, sinks and a non-blocking player.

Typical use (what the ``audio_feedback`` node does)::

    player = build_player(sink='auto', voice='en', rate=175, volume=1.0,
                          tone_hz=880.0, logger=node.get_logger(),
                          phrases=policy.fixed_phrases())   # pre-renders in background
    for cue in policy.on_rep(rep, now):
        publish(cue.text); player.play(cue)          # never blocks
    player.close()
"""

from rep_coach.audio.player import (AudioCuePlayer, build_player,
                                    PlayerStats)
from rep_coach.audio.sinks import (CommandSink, make_sink, NullSink, PlayContext, Sink,
                                   SINK_SPECS, SinkUnavailable, SoundDeviceSink, WavDirSink)
from rep_coach.audio.tones import beeps, Clip, dominant_frequency, fallback_clip, tone
from rep_coach.audio.tts import EspeakTTS

__all__ = [
    'AudioCuePlayer', 'build_player', 'PlayerStats', 'CommandSink', 'make_sink', 'NullSink',
    'PlayContext', 'Sink', 'SINK_SPECS', 'SinkUnavailable', 'SoundDeviceSink', 'WavDirSink',
    'beeps', 'Clip', 'dominant_frequency', 'fallback_clip', 'tone', 'EspeakTTS',
]

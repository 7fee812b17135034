"""sensor_msgs/Image and CompressedImage -> BGR numpy frames, for any message backend."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Encodings accepted from sensor_msgs/Image, with their channel count.
_CHANNELS = {'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'rgba8': 4, 'mono8': 1}


class ImageError(ValueError):
    """An image message that cannot be turned into a frame; the message says why."""


def image_to_bgr(msg: Any) -> np.ndarray:
    """Return an (H, W, 3) uint8 BGR copy of a ``sensor_msgs/Image``."""
    encoding = str(msg.encoding).lower()
    if encoding not in _CHANNELS:
        raise ImageError(f'image encoding {msg.encoding!r} not supported '
                         f'(supported: {", ".join(_CHANNELS)})')
    channels = _CHANNELS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if height <= 0 or width <= 0 or step < width * channels or data.size < step * height:
        raise ImageError(f'image {width}x{height} step {step} does not fit its '
                         f'{data.size} bytes of data')
    rows = data[:step * height].reshape(height, step)[:, :width * channels]
    pixels = rows.reshape(height, width, channels)
    if encoding == 'mono8':
        return np.repeat(pixels, 3, axis=2)
    if encoding.startswith('rgb'):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def compressed_to_bgr(msg: Any) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` (JPEG, PNG) to BGR with OpenCV."""
    import cv2  # the pose extra; imported here so the IMU graph never needs it
    what = f'compressed image ({msg.format!r}, {len(msg.data)} bytes)'
    try:
        frame = cv2.imdecode(np.frombuffer(bytes(msg.data), dtype=np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        # No data at all fails an OpenCV assertion, whose two-line text names OpenCV's
        # source file and "!buf.empty()", not the message; the size here says it all.
        raise ImageError(f'{what} could not be decoded') from exc
    if frame is None:
        raise ImageError(f'{what} could not be decoded')
    return frame

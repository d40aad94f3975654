"""Audio dashboard: a clip as 16-bit PCM WAV in a legacy ``Summary.Audio``, as torch writes it.

``Value(tag, audio=Audio(sample_rate, num_channels, length_frames, wav, "audio/wav"),
metadata=audio plugin, AudioPluginData(encoding=WAV))``. TensorBoard turns a legacy
``Audio`` into the audio plugin's ``[1, 2]`` (wav, label) string tensor when it loads the
file; the plugin metadata only makes the tag show up under the plugin in readers that look
at metadata before converting.

Clips are laid out here, NumPy only; the caller checks the shape and dtype with
``clip_layout`` and ``check_dtype`` and encodes later with ``encode_value``.
"""

from __future__ import annotations

import math
import numbers
import struct
from typing import NamedTuple

import numpy as np

from tblog.summary import _wire

PLUGIN_NAME = "audio"
CONTENT_TYPE = "audio/wav"
_WAV_ENCODING = 11  # AudioPluginData.Encoding.WAV
_PCM_MAX = 32767  # full scale of 16-bit PCM, as torch scales: sample * 32767, truncated
_U32_MAX = 2**32 - 1
_MAX_CHANNELS = 2

# AudioPluginData(version=0, encoding=WAV) is b"\x10\x0b"; no data_class on a legacy value.
_METADATA_FIELD = _wire.field_bytes(b"\x4a", _wire.plugin_metadata(PLUGIN_NAME, b"\x10\x0b"))
_CONTENT_TYPE_FIELD = _wire.field_str(b"\x2a", CONTENT_TYPE)
_F32 = struct.Struct("<f")
_WAV_HEAD = struct.Struct("<4sI4s4sIHHIIHH4sI")


class ClipLayout(NamedTuple):
    """How a clip's array maps to WAV frames: ``(frames, channels)`` after ``squeeze_axes``."""

    squeeze_axes: tuple[int, ...]  # size-1 axes dropped first (only for rank > 2)
    channels_first: bool  # the remaining 2-D array is (channels, frames)
    num_channels: int
    length_frames: int


def sample_rate(value: object, name: str = "sample_rate") -> int:
    """A sample rate in whole Hz; a float is rounded, as the stdlib ``wave`` module does."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise TypeError(f"{name} must be a positive number of samples per second; got {value!r}")
    rate = float(value)
    if not (math.isfinite(rate) and rate >= 1):
        raise ValueError(f"{name} must be at least 1 Hz; got {value!r}")
    if rate > _U32_MAX // (2 * _MAX_CHANNELS):
        raise ValueError(f"{name} is too large for a WAV header; got {value!r}")
    return round(rate)


def check_dtype(kind: str, described: str, name: str = "snd_tensor") -> None:
    """Samples must be real numbers (float in [-1, 1]; bool and integers are taken as floats)."""
    if kind not in "fiub":
        raise TypeError(f"{name} must hold real numbers (float amplitudes in [-1, 1]); got {described}")


def clip_layout(shape: tuple[int, ...], name: str = "snd_tensor") -> ClipLayout:
    """Read a clip's shape; raise ValueError naming ``name`` if it is not one.

    * 1-D ``(L,)``: mono.
    * 2-D ``(C, L)`` with C in (1, 2): channels first, as torch's ``(1, L)`` and torchaudio.
      Otherwise ``(L, C)`` with C in (1, 2): channels last (soundfile, librosa).
      A 2-D array with both sides 1 or 2 is read as ``(C, L)``.
    * Higher ranks: size-1 axes are dropped first (torch squeezes them), then as above.
    """
    squeeze: tuple[int, ...] = ()
    if len(shape) > 2:
        squeeze = tuple(axis for axis, size in enumerate(shape) if size == 1)
    dims = tuple(size for axis, size in enumerate(shape) if axis not in squeeze)
    if len(dims) == 1:
        channels_first, channels, frames = True, 1, dims[0]
    elif len(dims) == 2 and 1 <= dims[0] <= _MAX_CHANNELS:
        channels_first, channels, frames = True, dims[0], dims[1]
    elif len(dims) == 2 and 1 <= dims[1] <= _MAX_CHANNELS:
        channels_first, channels, frames = False, dims[1], dims[0]
    elif len(dims) == 2 and 0 in dims:
        raise ValueError(f"{name} must not be empty; got shape {shape}")
    else:
        raise ValueError(
            f"{name} must be a mono clip (L,) or a clip with 1 or 2 channels, (C, L) or (L, C) "
            f"(size-1 axes of higher ranks are dropped); got shape {shape}"
        )
    if frames == 0:
        raise ValueError(f"{name} must not be empty; got shape {shape}")
    if frames * channels * 2 > _U32_MAX - 36:
        raise ValueError(f"{name} is too long for one WAV file (4 GiB); got shape {shape}")
    return ClipLayout(squeeze, channels_first, channels, frames)


def check_samples(samples: np.ndarray, name: str = "snd_tensor") -> bool:
    """Raise ValueError for NaN or ±inf; return whether any sample lies outside [-1, 1]."""
    low, high = float(samples.min()), float(samples.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"{name} must hold finite samples; it holds NaN or inf (range {low}..{high})")
    return low < -1.0 or high > 1.0


def pcm16(samples: np.ndarray, layout: ClipLayout) -> np.ndarray:
    """Interleaved little-endian int16 frames, shape (L, C): clip to [-1, 1], * 32767, truncate."""
    if layout.squeeze_axes:
        samples = samples.squeeze(layout.squeeze_axes)
    samples = samples.reshape(layout.num_channels, -1) if samples.ndim == 1 else samples
    if layout.channels_first:
        samples = samples.T
    if samples.dtype.kind != "f" or samples.dtype.itemsize < 4:
        samples = samples.astype(np.float32)
    scaled = np.clip(samples, -1.0, 1.0) * _PCM_MAX
    return scaled.astype("<i2", order="C")


def wav(pcm: np.ndarray, rate: int) -> bytes:
    """A canonical 44-byte-header PCM WAV file of int16 frames ``pcm`` (L, C)."""
    frames, channels = pcm.shape
    data_size = frames * channels * 2
    head = _WAV_HEAD.pack(
        b"RIFF", 36 + data_size, b"WAVE",
        b"fmt ", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16,
        b"data", data_size,
    )  # fmt: skip
    return head + pcm.tobytes()


def audio_value(tag: str, wav_bytes: bytes, rate: int, num_channels: int, length_frames: int) -> bytes:
    """An encoded ``Summary.Value`` holding a legacy ``Audio`` with the audio plugin metadata."""
    audio = (
        b"\x0d" + _F32.pack(rate)  # sample_rate (float)
        + b"\x10" + _wire.varint(num_channels)
        + b"\x18" + _wire.varint(length_frames)
        + _wire.field_bytes(b"\x22", wav_bytes)  # encoded_audio_string
        + _CONTENT_TYPE_FIELD
    )  # fmt: skip
    return _wire.field_str(b"\x0a", tag) + _wire.field_bytes(b"\x32", audio) + _METADATA_FIELD


def encode_value(tag: str, samples: np.ndarray, layout: ClipLayout, rate: int) -> bytes:
    """Samples (any real dtype, the shape ``layout`` was read from) to an encoded ``Value``."""
    return audio_value(
        tag, wav(pcm16(samples, layout), rate), rate, layout.num_channels, layout.length_frames
    )

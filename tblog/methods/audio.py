"""Audio dashboard: ``add_audio``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tblog import _convert
from tblog.methods._base import WriterBase
from tblog.summary import _wire
from tblog.summary import audio as _audio


class AudioMethods(WriterBase):
    """Sound clips, played in the browser."""

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: Any = None,
        sample_rate: Any = 44100,
        walltime: float | None = None,
    ) -> None:
        """Log a sound clip as a 16-bit PCM WAV file (Audio dashboard).

        ``snd_tensor`` (NumPy, torch on any device, JAX, or a list) holds amplitudes in
        [-1, 1]; louder samples are clipped, with a warning, and scaled to int16 as torch
        does (``sample * 32767``, truncated). Integer and bool arrays are taken as the same
        amplitudes, so convert int16 PCM with ``x / 32768`` first. Shapes:

        * ``(L,)`` mono; ``(1, L)`` (torch's documented shape) and ``(L, 1)`` mono too;
        * ``(2, L)`` stereo, channels first (torchaudio), or ``(L, 2)`` channels last
          (soundfile); a 2-D array is read as ``(C, L)`` whenever its first side is 1 or 2;
        * higher ranks have their size-1 axes dropped first, as torch squeezes them.

        ``sample_rate`` is in Hz (at least 1; a float is rounded, as the ``wave`` module
        does). NaN or ±inf samples raise ValueError. The WAV is encoded on the background
        thread; a torch tensor on an accelerator or a JAX array is also read there (so its
        NaN check, and the error, come with the next call).
        """
        _convert.tag(tag)
        rate = _audio.sample_rate(sample_rate)
        try:
            kind = _convert.dtype_kind(snd_tensor)
            shape = _convert.shape_of(snd_tensor)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"snd_tensor must be an array of amplitudes; got {_convert.describe(snd_tensor)}"
            ) from exc
        _audio.check_dtype(kind, _convert.describe(snd_tensor))
        layout = _audio.clip_layout(shape)
        step, wall = self._step_and_wall(global_step, walltime)
        if not self.is_writing:
            return
        snap = _convert.snapshot(snd_tensor, "snd_tensor")
        on_host = isinstance(snap, np.ndarray)
        if on_host and _audio.check_samples(snap):
            _warn_clipped(tag, stacklevel=3)

        def encode() -> bytes:
            samples = snap if on_host else _convert.array(snap, "snd_tensor")
            if not on_host and _audio.check_samples(samples):
                _warn_clipped(tag, stacklevel=1)
            value = _audio.encode_value(tag, samples, layout, rate)
            return _wire.event(wall, step, _wire.summary([value]))

        nbytes = snap.nbytes if on_host else 4 * layout.num_channels * layout.length_frames
        self._put_deferred(encode, nbytes + 2 * layout.num_channels * layout.length_frames)


def _warn_clipped(tag: str, stacklevel: int) -> None:
    warnings.warn(
        f"add_audio({tag!r}): amplitudes outside [-1, 1] were clipped", UserWarning, stacklevel=stacklevel
    )

"""FLAC files of rendered clips: 16-bit, deterministic bytes, through soundfile (libsndfile).

soundfile is the one dependency synpat-gen's sound path adds (``pip install soundfile``, part of
the ``audio`` extra); image runs never import it. The samples are quantised here, not by libsndfile:
round(x x 32767) of the clip clipped to [-1, 1], so the bytes depend only on the clip and the
encoder's version, which the FLAC header names.
"""

from __future__ import annotations

import io

import numpy as np
from synpat.core.errors import UserError

FLAC_SCALE = 32767.0


def _soundfile():
    try:
        import soundfile
    except (ImportError, OSError):
        raise UserError(
            "sound programs are written as FLAC through the soundfile package, which is not installed "
            "(pip install soundfile)"
        ) from None
    return soundfile


def require_soundfile() -> None:
    """UserError in one line, before a sound run renders anything, when soundfile is missing."""
    _soundfile()


def quantise(wave: np.ndarray) -> np.ndarray:
    """wave (C, S) float32 in [-1, 1] -> (S, C) int16 (the frame order of a sound file)."""
    return np.round(np.clip(wave, -1.0, 1.0).T * FLAC_SCALE).astype(np.int16)


def encode_flac(wave: np.ndarray, sample_rate: int) -> bytes:
    """wave (C, S) float32 in [-1, 1] -> a 16-bit FLAC file's bytes."""
    sf = _soundfile()
    buf = io.BytesIO()
    sf.write(buf, quantise(wave), int(sample_rate), format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def decode_flac(data: bytes) -> tuple[np.ndarray, int]:
    """A FLAC file's bytes -> (wave (C, S) float32 in [-1, 1], sample rate); ValueError saying why
    for bytes libsndfile cannot read (a damaged or foreign file)."""
    sf = _soundfile()
    try:
        frames, rate = sf.read(io.BytesIO(data), dtype="int16", always_2d=True)
    except sf.SoundFileError as e:
        reason = str(e).rsplit(": ", 1)[-1].strip() or type(e).__name__  # libsndfile's words, not our BytesIO
        raise ValueError(f"not a readable FLAC clip ({reason})") from None
    return (frames.T.astype(np.float32) / FLAC_SCALE), int(rate)

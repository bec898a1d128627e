"""Audio-side bad input: a missing clip, random bytes as weights, a corrupt JSON beside weights."""

from __future__ import annotations

import os

import pytest
from synpat.audio.fbank import AudioReadError, read_wave
from synpat.core.errors import UserError
from synpat.train.weights import read_meta, read_tensors


def test_a_missing_clip_is_not_found(tmp_path):
    with pytest.raises(AudioReadError) as err:
        read_wave(tmp_path / "gone.wav")
    assert str(err.value) == "not found"


def test_random_bytes_and_a_corrupt_json_are_one_line_without_a_pickle_hint(tmp_path):
    noise = tmp_path / "noise.pt"
    noise.write_bytes(os.urandom(4096))
    with pytest.raises(UserError) as err:
        read_tensors(noise)
    assert str(err.value).startswith(f"{noise}: not a readable torch checkpoint (") and "trust-pickle" not in str(
        err.value
    )
    weights = tmp_path / "w.safetensors"
    (tmp_path / "w.json").write_text('{"arch": ')
    with pytest.raises(UserError) as err:
        read_meta(weights)
    assert str(err.value).startswith(f"{tmp_path / 'w.json'}: not readable JSON (") and "\n" not in str(err.value)

"""Sound shards in synpat-gen's sound format, written with numpy + soundfile, for the training tests.

Each class is one recipe (a sine at its own pitch, a chord, band noise, clicks...), varied per
clip by seed: KEY.flac (16-bit FLAC), KEY.cls, KEY.json per sample, a DALI .idx per tar, and a
manifest.json with "kind": "sound", "sample_rate", "duration", "channels", as the sound renderer
writes them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import soundfile as sf
from synpat.gen.shards import sample_key, shard_name, write_shard

RECIPES = ("sine", "chord", "noise", "clicks")


def clip(recipe: str, rng: np.random.Generator, samples: int, rate: int, channels: int) -> np.ndarray:
    """One clip (samples, channels) float in [-1, 1] of a recipe, its parameters drawn from rng."""
    t = np.arange(samples) / rate
    if recipe == "sine":
        wave = np.sin(2 * np.pi * rng.uniform(200, 800) * t)
    elif recipe == "chord":
        f = rng.uniform(100, 300)
        wave = sum(np.sin(2 * np.pi * f * k * t) / k for k in (1, 1.25, 1.5, 2)) / 2
    elif recipe == "noise":
        wave = np.convolve(rng.standard_normal(samples), np.ones(8) / 8, mode="same") * 2
    else:
        wave = np.zeros(samples)
        wave[rng.integers(0, samples, 12)] = 1.0
        wave = np.convolve(wave, np.exp(-np.arange(200) / 30.0), mode="same")
    wave = 0.5 * wave / max(np.abs(wave).max(), 1e-9) * np.exp(-t * rng.uniform(0, 2))
    return np.repeat(wave[:, None], channels, axis=1).astype(np.float32)


def flac_bytes(wave: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def write_sound_shards(
    out: Path,
    count: int = 64,
    shard_size: int = 32,
    duration: float = 0.5,
    sample_rate: int = 16000,
    channels: int = 1,
    seed: int = 0,
) -> Path:
    """`count` clips, class = index % len(RECIPES), in tars of `shard_size`, plus manifest.json."""
    out.mkdir(parents=True, exist_ok=True)
    samples = int(round(duration * sample_rate))
    shards = []
    for first in range(0, count, shard_size):
        rows = []
        for i in range(first, min(first + shard_size, count)):
            cls = i % len(RECIPES)
            rng = np.random.default_rng([seed, i])
            wave = clip(RECIPES[cls], rng, samples, sample_rate, channels)
            meta = {
                "program": RECIPES[cls],
                "hash": RECIPES[cls],
                "class": cls,
                "iTime": 0.0,
                "iSeed": i,
                "iParams": [0.0] * 4,
                "sample_rate": sample_rate,
                "duration": duration,
            }
            rows.append(
                (
                    sample_key(i),
                    {
                        "flac": flac_bytes(wave, sample_rate),
                        "cls": str(cls).encode(),
                        "json": json.dumps(meta).encode(),
                    },
                )
            )
        name = shard_name("synpat", first // shard_size)
        write_shard(out, name, rows)
        shards.append(name)
    manifest = {
        "kind": "sound",
        "sample_rate": sample_rate,
        "duration": duration,
        "channels": channels,
        "count": count,
        "programs": [{"name": r, "class": c} for c, r in enumerate(RECIPES)],
        "shards": {"total": len(shards), "complete": [f"{s}.tar" for s in shards]},
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out

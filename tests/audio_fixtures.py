"""Synthetic audio datasets written by the tests (numpy + soundfile), in the layouts synpat reads."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

CLASSES = ("tone", "noise", "chirp", "clicks")
RATE = 16000


def synth(kind: str, rng: np.random.Generator, rate: int = RATE) -> np.ndarray:
    """One 1-2 s float32 clip of `kind` with a random onset and a little background noise."""
    n = int(rate * rng.uniform(1.0, 2.0))
    t = np.arange(n) / rate
    start, length = rng.uniform(0.0, 0.3), rng.uniform(0.4, 0.8)
    gate = ((t >= start) & (t < start + length)).astype(np.float32)
    if kind == "tone":
        sound = np.sin(2 * np.pi * rng.uniform(300, 1200) * t)
    elif kind == "noise":
        sound = rng.standard_normal(n) * 0.5
    elif kind == "chirp":
        f0, f1 = rng.uniform(200, 500), rng.uniform(3000, 5000)
        sound = np.sin(2 * np.pi * (f0 * (t - start) + (f1 - f0) * (t - start) ** 2 / (2 * length)))
    elif kind == "clicks":
        sound = np.zeros(n)
        sound[(np.arange(0, n, int(rate / rng.uniform(8, 20))))] = 1.0
    else:
        raise ValueError(kind)
    clip = rng.uniform(0.3, 0.8) * sound * (gate if kind != "clicks" else 1.0)
    return (clip + 0.01 * rng.standard_normal(n)).astype(np.float32)


def make_esc50(root: Path, per_class: int = 20, folds: int = 5, seed: int = 0) -> Path:
    """ROOT/audio/*.wav + ROOT/meta/esc50.csv with len(CLASSES) classes, clips spread over folds."""
    rng = np.random.default_rng(seed)
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = []
    for target, kind in enumerate(CLASSES):
        for i in range(per_class):
            fold = i % folds + 1
            name = f"{fold}-{kind}{i:03d}-A-{target}.wav"
            sf.write(root / "audio" / name, synth(kind, rng), RATE, subtype="PCM_16")
            rows.append([name, fold, target, kind, "False", f"{kind}{i}", "A"])
    with (root / "meta" / "esc50.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "fold", "target", "category", "esc10", "src_file", "take"])
        writer.writerows(rows)
    return root


def make_folder(root: Path, per_class: int = 6, seed: int = 1) -> Path:
    """ROOT/<class>/*.wav."""
    rng = np.random.default_rng(seed)
    for kind in CLASSES:
        (root / kind).mkdir(parents=True)
        for i in range(per_class):
            sf.write(root / kind / f"{kind}_{i}.wav", synth(kind, rng), RATE)
    return root


def make_speechcommands(root: Path, words: tuple[str, ...] = ("yes", "no", "up"), per_word: int = 5) -> Path:
    """ROOT/<word>/*.wav + validation_list.txt + testing_list.txt + _background_noise_/."""
    rng = np.random.default_rng(2)
    valid, test = [], []
    for w, word in enumerate(words):
        (root / word).mkdir(parents=True)
        for i in range(per_word):
            name = f"spk{i}_nohash_0.wav"
            sf.write(root / word / name, synth(CLASSES[w], rng), RATE)
            (valid if i == 0 else test if i == 1 else []).append(f"{word}/{name}")
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "white.wav", rng.standard_normal(RATE).astype(np.float32), RATE)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


def make_image_encoder(path: Path, embed_dim: int = 96, depth: int = 2, num_heads: int = 3, seed: int = 0) -> Path:
    """A randomly initialised 3-channel timm ViT encoder exported the way the pre-trainer does:
    `path` (.safetensors, timm names) + `<stem>.json` with the architecture."""
    import json

    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    model = timm.models.vision_transformer.VisionTransformer(
        img_size=64, patch_size=16, in_chans=3, num_classes=0, embed_dim=embed_dim, depth=depth, num_heads=num_heads
    )
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    path.with_suffix(".json").write_text(
        json.dumps({"embed_dim": embed_dim, "depth": depth, "num_heads": num_heads, "patch_size": 16, "img_size": 64})
    )
    return path


def toy_sound_experiment(clips: int, pretrain_steps: int, *extra: str) -> list[str]:
    """synpat-experiment flags for a toy run of the default (sounds) arm: `clips` clips of 4 grammar
    programs, `pretrain_steps` steps of batch 8, one fine-tuning epoch on test fold 1, 32 mel bins; `extra` after."""
    toy = ["--sound-shaders", "procedural-sound:4", "--clips", str(clips), "--pretrain-steps", str(pretrain_steps)]
    toy += ["--pretrain-batch", "8", "--finetune-epochs", "1", "--finetune-min-steps", "0", "--mel-bins", "32"]
    return toy + ["--threads", "1", "--test-folds", "1", *extra]


def finetune_results(path: Path, scores: dict[str, float], task: str = "esc50:tasks/keywords") -> str:
    """A results.json as synpat-finetune writes its task and rounds (name, accuracy, ...); -> its path."""
    rounds = [{"name": name, "accuracy": value, "train": 10, "test": 5} for name, value in scores.items()]
    path.write_text(json.dumps({"data": {"spec": task}, "rounds": rounds, "mean": {}, "std": {}}))
    return str(path)


def curve_results(path: Path, rounds: dict[str, list[tuple[float | None, float | None, float]]], **top) -> str:
    """A results.json of a --epoch-curves run: per round (val, val_loss, test) per epoch, and `top` fields
    beside data and rounds; -> its path."""
    doc = {
        "data": {"spec": "esc50:tasks/pitch"},
        "rounds": [
            {
                "name": name,
                "accuracy": 0.0,
                "curve": [{"epoch": i + 1, "val": v, "val_loss": loss, "test": t} for i, (v, loss, t) in enumerate(c)],
            }
            for name, c in rounds.items()
        ],
        **top,
    }
    path.write_text(json.dumps(doc))
    return str(path)

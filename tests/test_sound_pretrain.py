"""Pre-training on sounds: train/pretrain.py on sound shards (DALI and torch loaders, mono and stereo),
the mix of sounds and images, the input kinds, a stream of waves, and the exported encoder taken
as it is by synpat-finetune --init and the HEAR API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_fixtures import make_esc50
from PIL import Image
from sound_fixtures import write_sound_shards
from synpat.core.errors import UserError
from synpat.gen.programs import bundled_shaders_dir
from synpat.train.batched_fbank import BatchedFbank
from synpat.train.image_aug import MEAN, STD
from synpat.train.input_kinds import (
    ImageAsSpectrogram,
    ModelInput,
    SoundFormat,
    SpectrogramInput,
    Standardiser,
    data_kind,
    spectrogram_frames,
)
from synpat.train.loaders import LoaderConfig
from synpat.train.pretrain_config import parse_config
from synpat.train.sound_loaders import SoundStreamLoader, TorchSoundShardLoader
from test_pretrain import PRETRAIN, TINY, log, pretrain, run

SMALL = ["--batch-size", "8", "--log-every", "1", "--recon-every", "0", "--save-every", "0"]


@pytest.fixture(scope="module")
def sound_shards(tmp_path_factory) -> Path:
    """64 half-second mono clips of 4 recipes in 2 shards."""
    return write_sound_shards(tmp_path_factory.mktemp("sounds"), count=64, shard_size=32, duration=0.5)


@pytest.fixture(scope="module")
def image_shards(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("images")
    programs = [bundled_shaders_dir() / f"{name}.glsl" for name in ("fbm", "waves")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "synpat.gen.cli",
            "--shaders",
            *map(str, programs),
            "--out",
            str(out),
            "--count",
            "64",
            "--size",
            "64",
            "--shard-size",
            "32",
            "--overwrite",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def sound_run(sound_shards, tmp_path_factory) -> Path:
    """20 steps of the tiny MAE on the sound shards through DALI (the default loader)."""
    out = tmp_path_factory.mktemp("sound_run")
    pretrain(
        "--data",
        sound_shards,
        "--out",
        out,
        "--loader",
        "dali",
        "--steps",
        "20",
        "--batch-size",
        "8",
        "--log-every",
        "5",
        "--recon-every",
        "0",
        "--save-every",
        "0",
    )
    return out


def test_the_kind_comes_from_the_manifest(sound_shards, image_shards, tmp_path):
    assert data_kind(str(sound_shards)) == ("sound", SoundFormat(16000, 0.5, 1))
    assert data_kind(str(sound_shards / "synpat-000000.tar")) == ("sound", SoundFormat(16000, 0.5, 1))
    assert data_kind(str(image_shards)) == ("image", None)
    assert data_kind("pipe:cat x.tar") == ("image", None)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text(json.dumps({"kind": "sound", "duration": 1.0}))
    with pytest.raises(UserError, match="manifest.json: a sound manifest needs sample_rate"):
        data_kind(str(bad))
    (bad / "manifest.json").write_text(json.dumps({"kind": "video"}))
    with pytest.raises(UserError, match="\"kind\" is 'video'"):
        data_kind(str(bad))
    # frames: 0.5 s -> 48 Kaldi frames -> 48; 1 s -> 98 -> 96; 10.24 s -> 1022 -> 1024 (AudioMAE's input)
    assert [spectrogram_frames(SoundFormat(16000, d), 16) for d in (0.5, 1.0, 10.24)] == [48, 96, 1024]


def test_pretrains_on_sound_shards_and_exports_an_audio_encoder(sound_run):
    rows = log(sound_run)
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert rows[-1]["loss"] < rows[0]["loss"], rows
    meta = json.loads((sound_run / "encoder.json").read_text())
    norm = json.loads((sound_run / "input_norm.json").read_text())["sound"]
    assert meta["kind"] == "pretrained-sound" and meta["in_chans"] == 1 and meta["input_shape"] == [128, 48]
    assert meta["arch"] == {
        "embed_dim": 192,
        "depth": 12,
        "num_heads": 3,
        "patch_size": 16,
        "mlp_ratio": 4.0,
        "qkv_bias": True,
    }
    assert (meta["norm_mean"], meta["norm_std"]) == (norm["mean"], norm["std"])
    assert -20 < norm["mean"] < 0 and 1 < norm["std"] < 20  # log-mel of clips at -6 dBFS
    picture = Image.open(sound_run / "recon" / "step_00000020.png")
    assert picture.size == (8 * 48 + 7 * 2, 3 * 128 + 2 * 2)  # 8 spectrograms 128 mel x 48 frames, three rows
    grey = np.asarray(picture)[:128]
    assert (grey[..., 0] == grey[..., 2]).all() and grey.std() > 10


def test_the_export_is_the_encoder_finetune_and_hear_take(sound_run, tmp_path):
    from synpat.audio.finetune import run as finetune
    from synpat.audio.finetune_config import FinetuneConfig
    from synpat.audio.vit_audio import build_audio_vit, load_encoder_state, read_model_file
    from synpat.hear import get_scene_embeddings, load_model
    from synpat.train.mae import build_mae

    weights = sound_run / "encoder.safetensors"
    state, meta = read_model_file(weights)
    vit = build_audio_vit(
        __import__("synpat.train.vit_arch", fromlist=["ViTArch"]).ViTArch.from_json(meta["arch"]),
        tuple(meta["input_shape"]),
    )
    load_encoder_state(vit, state)
    mae = build_mae("mae_vit_tiny_patch16", img_size=(128, 48), in_chans=1).eval()
    mae.load_state_dict(state, strict=False)
    x = torch.randn(2, 1, 128, 48)
    with torch.no_grad():  # the audio ViT's tokens through its fc_norm are the MAE encoder's output
        torch.testing.assert_close(vit.fc_norm(vit.eval().forward_features(x)), mae.features(x), rtol=0, atol=1e-5)

    model = load_model(str(weights))
    assert (model.shape.mel_bins, model.shape.frames) == (128, 48)
    assert (model.norm_mean, model.norm_std) == (meta["norm_mean"], meta["norm_std"])
    assert get_scene_embeddings(torch.randn(3, 16000) * 0.1, model).shape == (3, 192)

    esc = make_esc50(tmp_path / "esc", per_class=5, seed=1)
    result = finetune(
        FinetuneConfig(
            init=str(weights),
            data=f"esc50:{esc}",
            out=str(tmp_path / "ft"),
            epochs=1,
            batch_size=8,
            test_folds="1",
            threads=1,
        )
    )
    assert result["config"]["mel_bins"] == 128 and result["config"]["frames"] == 48
    assert result["arch"] == meta["arch"] and 0 <= result["mean"]["accuracy"] <= 1


def test_torch_loader_matches_the_shards_and_keeps_stereo(tmp_path):
    shards = write_sound_shards(tmp_path / "stereo", count=16, shard_size=8, duration=0.25, channels=2)
    loader = TorchSoundShardLoader(
        LoaderConfig(data=str(shards), batch_size=4, loader="torch", num_workers=0, device="cpu"),
        sorted(map(str, shards.glob("*.tar"))),
        SoundFormat(16000, 0.25, 2),
    )
    batches = list(loader)
    assert len(batches) == len(loader) == 4
    waves, labels = batches[0]
    assert waves.shape == (4, 2, 4000) and waves.dtype == torch.float32 and labels.dtype == torch.int64
    assert 0.3 < waves.abs().max() <= 0.51 and set(torch.cat([b[1] for b in batches]).tolist()) == {0, 1, 2, 3}
    torch.testing.assert_close(waves[:, 0], waves[:, 1])  # the fixture writes one wave on both channels


def test_stereo_resumed_sound_run_repeats_the_uninterrupted_one(tmp_path):
    """4 steps on stereo clips (checkpoints at 2 and 4); back to step 2 as if killed there; resumed, steps 3-4
    repeat exactly: the same batches and the same fbank standardisation (input_norm.json, not a new first batch)."""
    shards = write_sound_shards(tmp_path / "stereo", count=48, shard_size=16, duration=0.25, channels=2)
    out = tmp_path / "run"
    args = (
        "--data",
        shards,
        "--loader",
        "torch",
        "--out",
        out,
        "--steps",
        "4",
        "--batch-size",
        "8",
        "--log-every",
        "1",
        "--save-every",
        "2",
        "--recon-every",
        "0",
    )
    pretrain(*args)
    norm = (out / "input_norm.json").read_text()
    first = log(out)
    checkpoints = out / "checkpoints"
    (checkpoints / "latest.json").write_text(json.dumps({"tag": "step_00000002", "step": 2}))
    for path in (checkpoints / "step_00000004").iterdir():
        path.unlink()
    (checkpoints / "step_00000004").rmdir()
    pretrain(*args, "--resume", "auto")
    records = log(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # the resumed steps replace the log's steps 3-4
    assert [r["loss"] for r in records] == pytest.approx([r["loss"] for r in first], rel=1e-6, abs=0)
    assert (out / "input_norm.json").read_text() == norm


def test_mix_pretrains_on_sounds_and_images_in_one_batch(sound_shards, image_shards, tmp_path):
    out = tmp_path / "mix"
    result = pretrain(
        "--data",
        image_shards,
        "--mix-data",
        sound_shards,
        "--sound-share",
        "0.25",
        "--out",
        out,
        "--steps",
        "3",
        *SMALL,
    )
    norm = json.loads((out / "input_norm.json").read_text())
    assert set(norm) == {"image", "sound"} and 0 < norm["image"]["mean"] < 1
    meta = json.loads((out / "encoder.json").read_text())
    assert meta["kind"] == "pretrained-mix" and meta["input_shape"] == [128, 48] and meta["in_chans"] == 1
    settings = json.loads(next((out / "checkpoints").glob("step_*/settings.json")).read_text())
    assert settings["input"] == "mix" and settings["input_shape"] == [128, 48]
    assert Image.open(out / "recon" / "step_00000003.png").size == (8 * 48 + 7 * 2, 3 * 128 + 2 * 2)
    assert "3 steps (24 samples, 1 rank(s))" in result.stdout and "samples/s" in result.stderr


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--mix-data", "IMAGES"], "--mix-data IMAGES: image shards like --data's"),
        (["--mix-data", "SOUNDS", "--sound-share", "0.001"], "leaving at least one clip and one image"),
    ],
)
def test_bad_mixes_are_one_line(extra, message, image_shards, sound_shards, tmp_path):
    extra = [str(image_shards) if a == "IMAGES" else str(sound_shards) if a == "SOUNDS" else a for a in extra]
    message = message.replace("IMAGES", str(image_shards))
    result = run(PRETRAIN, *TINY, "--data", image_shards, "--out", tmp_path / "o", "--steps", "1", *extra)
    last = result.stderr.strip().splitlines()[-1]  # (torch may warn about CUDA before it)
    assert result.returncode == 2 and last.startswith("pretrain: error: ") and message in last, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_image_as_spectrogram_is_standardised_luminance(tmp_path):
    rgb = torch.tensor([1.0, 0.5, 0.0])
    imgs = (rgb[:, None, None] - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
    imgs = imgs.expand(3, 64, 64).repeat(2, 1, 1, 1).clone()
    imgs[1] = imgs[1] * 0 + ((0 - torch.tensor(MEAN)) / torch.tensor(STD))[:, None, None]  # black
    standardise = Standardiser(tmp_path, rank=0)
    standardise.stats["image"] = (0.0, 1.0)  # raw luminance out
    out = ImageAsSpectrogram(128, 48, standardise)(imgs)
    assert out.shape == (2, 1, 128, 48)
    torch.testing.assert_close(out[0], torch.full((1, 128, 48), 0.299 + 0.587 * 0.5), rtol=0, atol=1e-5)
    torch.testing.assert_close(out[1], torch.zeros(1, 128, 48), rtol=0, atol=1e-5)


def test_a_stream_of_image_programs_is_an_image_input():
    from synpat.train.pretrain_inputs import stream_kind

    assert stream_kind([str(bundled_shaders_dir())], 0) == "image"  # image and splat programs alike


class FakeSoundStream:
    """Stands in for a PatternStream of sound programs (not in this synpat yet): next_waves() gives
    (waves (B, 2, S) float32 array, labels) of seeded sines, step by step."""

    def __init__(self, batch: int, samples: int, start_step: int = 0):
        self.batch, self.samples, self.step = batch, samples, start_step

    def next_waves(self):
        rng = np.random.default_rng(self.step)
        self.step += 1
        freqs = rng.uniform(100, 4000, self.batch)
        t = np.arange(self.samples) / 16000
        waves = 0.5 * np.sin(2 * np.pi * freqs[:, None] * t)[:, None].repeat(2, axis=1)
        return waves.astype(np.float32), np.arange(self.batch)


def test_a_stream_of_waves_goes_through_the_same_fbank(tmp_path):
    fmt = SoundFormat(16000, 0.5, 2)
    source = parse_config(
        ["--stream", "fake/", "--steps", "1", "--duration", "0.5", "--sample-rate", "16000"]
    ).stream_source()
    assert (source.duration, source.sample_rate) == (0.5, 16000)  # what the stream renders the clips at
    loader = SoundStreamLoader(LoaderConfig(source=source, batch_size=4, device="cpu"), FakeSoundStream(4, fmt.samples))
    (waves, labels), (again, _) = [b for b, _ in zip(loader, range(2))]
    assert waves.shape == (4, 2, 8000) and labels.tolist() == [0, 1, 2, 3] and not torch.equal(waves, again)
    to_input = ModelInput(
        "sound", torch.device("cpu"), torch.float32, SpectrogramInput(fmt, 128, 48, Standardiser(tmp_path, rank=0))
    )
    x = to_input(waves)
    mean, std = to_input.norm("sound")
    torch.testing.assert_close(x * std + mean, BatchedFbank(128)(waves[:, 0])[:, None], rtol=0, atol=1e-4)
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert json.loads((tmp_path / "input_norm.json").read_text())["sound"] == {"mean": mean, "std": std}


def test_pretrains_on_a_live_stream_of_sound_programs(tmp_path):
    """--stream of two bundled sound programs: real renders through the stream, no shards on disk."""
    programs = [bundled_shaders_dir() / "sounds" / f"{name}.glsl" for name in ("additive_harmonic", "noise_rain")]
    out = tmp_path / "run"
    result = pretrain(
        "--stream",
        ",".join(map(str, programs)),
        "--duration",
        "0.5",
        "--sample-rate",
        "16000",
        "--out",
        out,
        "--loader",
        "torch",
        "--steps",
        "3",
        *SMALL,
    )
    rows = log(out)
    assert [r["step"] for r in rows] == [1, 2, 3] and [r["images"] for r in rows] == [8, 16, 24]
    assert all(np.isfinite(r["loss"]) for r in rows)
    meta = json.loads((out / "encoder.json").read_text())
    assert meta["kind"] == "pretrained-sound" and meta["in_chans"] == 1 and meta["input_shape"] == [128, 48]
    assert not list(out.rglob("*.tar")) and not list(out.rglob("*.flac"))  # nothing rendered to disk
    summary = result.stdout.strip().splitlines()[-1]  # the progress and the summary count clips, not images
    assert "3 steps (24 clips, 1 rank(s))" in summary and " clips/s, loss " in summary, summary
    assert "clips/s" in result.stderr and "img/s" not in result.stderr

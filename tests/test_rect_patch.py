"""Rectangular patches end to end: an MAE pre-trained with full-band 128x2 patches on spectrograms
(`synpat-pretrain --patch 128x2`) exports, transfers, fine-tunes and serves the HEAR API with that
patch as it was trained (no resampling anywhere), and a fine-tuned model records the tokens it was
fine-tuned on so that the HEAR API runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from audio_fixtures import make_esc50
from PIL import Image
from sound_fixtures import write_sound_shards
from synpat.core.errors import UserError
from synpat.train.mae import build_mae
from synpat.train.pretrain_config import parse_config
from synpat.train.vit_arch import VIT_SIZES, ViTArch, with_patch
from test_pretrain import PRETRAIN, TINY, log, pretrain, run


@pytest.mark.parametrize("patch", [(128, 2), (16, 4), (16, 16)])
def test_mae_patches_round_trip(patch):
    mae = build_mae("mae_vit_tiny_patch16", patch=patch, img_size=(128, 48), in_chans=1)
    assert mae.num_patches == (128 // patch[0]) * (48 // patch[1])
    assert mae.decoder_pred.out_features == patch[0] * patch[1]
    x = torch.randn(2, 1, 128, 48)
    patches = mae.patchify(x)
    assert patches.shape == (2, mae.num_patches, patch[0] * patch[1])
    torch.testing.assert_close(mae.unpatchify(patches), x, rtol=0, atol=0)
    # patch 0 is the top-left block: rows 0..ph-1, columns 0..pw-1, row-major inside
    torch.testing.assert_close(patches[0, 0], x[0, 0, : patch[0], : patch[1]].reshape(-1))
    loss, pred, mask = mae(x, torch.rand(2, mae.num_patches))
    assert pred.shape == patches.shape and torch.isfinite(loss) and mask.sum() == 2 * int(mae.num_patches * 0.75)


def test_arch_json_keeps_square_patches_a_number():
    tiny = VIT_SIZES["vit_tiny"]
    assert tiny.to_json()["patch_size"] == 16 and tiny.patch == (16, 16)
    rect = with_patch(tiny, (128, 2))
    assert rect.to_json()["patch_size"] == [128, 2] and rect.patch == (128, 2)
    assert ViTArch.from_json(json.loads(json.dumps(rect.to_json()))) == rect
    assert ViTArch.from_json({**tiny.to_json(), "patch_size": [16, 16]}) == tiny
    assert with_patch(rect, (16, 16)) == tiny


@pytest.fixture(scope="module")
def rect_run(tmp_path_factory) -> Path:
    """12 steps of the tiny MAE with 128x2 patches on 0.5 s clips (128 mel x 48 frames: 24 patches)."""
    shards = write_sound_shards(tmp_path_factory.mktemp("sounds"), count=64, shard_size=32, duration=0.5)
    out = tmp_path_factory.mktemp("rect_run")
    pretrain("--data", shards, "--out", out, "--patch", "128x2", "--steps", "12", "--batch-size", "8",
             "--log-every", "4", "--recon-every", "0", "--save-every", "0")  # fmt: skip
    return out


def test_pretrains_with_full_band_patches(rect_run):
    rows = log(rect_run)
    assert [r["step"] for r in rows] == [4, 8, 12] and rows[-1]["loss"] < rows[0]["loss"], rows
    meta = json.loads((rect_run / "encoder.json").read_text())
    assert meta["arch"]["patch_size"] == [128, 2] and meta["input_shape"] == [128, 48]
    assert meta["model"] is None  # timm has no name for it; the audio stage reads "arch"
    from safetensors.torch import load_file

    assert load_file(rect_run / "encoder.safetensors")["patch_embed.proj.weight"].shape == (192, 1, 128, 2)
    picture = Image.open(rect_run / "recon" / "step_00000012.png")
    assert picture.size == (8 * 48 + 7 * 2, 3 * 128 + 2 * 2)
    again = parse_config(["--config", str(rect_run / "config.json")])  # the run's config.json is a config
    assert again.patch == "128x2" and again.patch_shape() == (128, 2) and again.steps == 12
    assert json.loads((rect_run / "run.json").read_text())["world_size"] == 1


def test_full_band_encoder_transfers_finetunes_and_serves_hear_unresampled(rect_run, tmp_path):
    from safetensors.torch import load_file
    from synpat.audio.finetune import run as finetune
    from synpat.audio.finetune_config import FinetuneConfig
    from synpat.audio.transfer import transfer_file
    from synpat.hear import get_scene_embeddings, get_timestamp_embeddings, load_model

    encoder = load_file(rect_run / "encoder.safetensors")
    meta = transfer_file(rect_run / "encoder.safetensors", tmp_path / "t.safetensors", (128, 96))
    assert meta["arch"]["patch_size"] == [128, 2] and meta["grid"] == [1, 48]
    moved = load_file(tmp_path / "t.safetensors")
    torch.testing.assert_close(moved["patch_embed.proj.weight"], encoder["patch_embed.proj.weight"])

    hear = load_model(str(tmp_path / "t.safetensors"))  # a transfer output serves HEAR directly
    embeddings, times = get_timestamp_embeddings(torch.randn(2, 16000) * 0.1, hear)
    assert embeddings.shape == (2, 50, 192) and times[0, 1] - times[0, 0] == 20  # one column: 2 frames, 20 ms

    esc = make_esc50(tmp_path / "esc", per_class=5, seed=1)
    result = finetune(
        FinetuneConfig(init=str(tmp_path / "t.safetensors"), data=f"esc50:{esc}", out=str(tmp_path / "ft"),
                       epochs=1, batch_size=8, test_folds="1", threads=1)
    )  # fmt: skip
    assert result["config"]["mel_bins"] == 128 and result["config"]["frames"] == 96
    best = json.loads((tmp_path / "ft" / "best.json").read_text())
    assert best["arch"]["patch_size"] == [128, 2] and best["patch_stride"] == [[128, 2], [128, 2]]
    model = load_model(str(tmp_path / "ft" / "best.safetensors"))
    assert get_scene_embeddings(torch.randn(3, 16000) * 0.1, model).shape == (3, 192)


def test_hear_runs_a_model_finetuned_with_other_tokens(tmp_path):
    """A scratch model fine-tuned with --patch 128x2 (the experiment's default): best.json says so, and
    a JSON of the older layout (the square encoder arch beside patch_stride) loads too."""
    from synpat.audio.finetune import run as finetune
    from synpat.audio.finetune_config import FinetuneConfig
    from synpat.hear import get_timestamp_embeddings, load_model

    esc = make_esc50(tmp_path / "esc", per_class=4, seed=2)
    finetune(
        FinetuneConfig(init="none", model="vit_tiny", data=f"esc50:{esc}", out=str(tmp_path / "ft"), epochs=1,
                       batch_size=8, test_folds="1", threads=1, patch="128x2")
    )  # fmt: skip
    path = tmp_path / "ft" / "best.json"
    best = json.loads(path.read_text())
    assert best["arch"]["patch_size"] == [128, 2]
    weights = str(tmp_path / "ft" / "best.safetensors")
    assert get_timestamp_embeddings(torch.zeros(1, 16000), load_model(weights))[0].shape == (1, 50, 192)

    path.write_text(json.dumps({**best, "arch": {**best["arch"], "patch_size": 16}}))  # the older layout
    assert get_timestamp_embeddings(torch.zeros(1, 16000), load_model(weights))[0].shape == (1, 50, 192)

    path.write_text(json.dumps({**best, "patch_stride": [[128, 2], [128, 1]]}))
    with pytest.raises(UserError, match=r"overlapping tokens .*\(stride = patch\)"):
        load_model(weights)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--patch", "0x2"], "bad config value patch='0x2': expected MELxFRAMES"),
        (["--patch", "48x2"], "mel_bins=128: the input 128x48 is not a multiple of the patch 48x2"),
        (["--patch", "128x48", "--mask-ratio", "0.75"], "mask_ratio=0.75: must mask at least one of the 1 patches"),
        (["--patch", "1x1"], "patch='1x1': a 1x1 patch of a spectrogram is one value"),  # was a NaN loss at step 1
    ],
)
def test_bad_patches_are_one_line(args, message, tmp_path):
    shards = write_sound_shards(tmp_path / "s", count=8, shard_size=8, duration=0.5)
    result = run(PRETRAIN, *TINY, "--data", shards, "--out", tmp_path / "out", "--steps", "1", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    # one line of ours (torch may log its own first: "No CUDA runtime is found" where CUDA_HOME exists)
    ours = [line for line in result.stderr.splitlines() if line.startswith("pretrain")]
    assert ours == [result.stderr.strip().splitlines()[-1]] and "Traceback" not in result.stderr, result.stderr


def test_patch_has_one_spelling(tmp_path):
    """' 128 X 2' is 128x2 and the model's own patch is '': config.json and a resumed run's comparison see
    one spelling (a resume with '128X2' of a 128x2 run was refused as other settings)."""
    shards = write_sound_shards(tmp_path / "s", count=8, shard_size=8, duration=0.5)
    base = ["--data", str(shards), "--model", "mae_vit_tiny_patch16"]
    assert parse_config([*base, "--patch", " 128 X 02 "]).patch == "128x2"
    assert parse_config([*base, "--patch", "16x16"]).patch == ""
    assert parse_config([*base, "--patch", "16x8"]).patch_shape() == (16, 8)


def test_resume_of_a_checkpoint_older_than_patch_is_refused_with_another_patch(tmp_path):
    """A checkpoint written before --patch existed (its settings have no "patch") was made with the model's
    square patch: resuming it with --patch 128x2 is refused in one line (it was a size-mismatch traceback
    from load_state_dict), and resuming it with the model's own patch, spelt 16x16, continues."""
    shards = write_sound_shards(tmp_path / "s", count=16, shard_size=16, duration=0.5)
    out = tmp_path / "out"
    common = ("--data", shards, "--out", out, "--batch-size", "4", "--recon-every", "0", "--log-every", "1")
    pretrain(*common, "--steps", "1", "--save-every", "1")
    settings = next((out / "checkpoints").glob("step_*")) / "settings.json"
    older = json.loads(settings.read_text())
    del older["config"]["patch"]
    settings.write_text(json.dumps(older))
    refused = run(PRETRAIN, *TINY, *common, "--steps", "2", "--resume", "auto", "--patch", "128x2")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-2000:]
    assert "made with other settings (patch '' -> '128x2')" in refused.stderr.strip().splitlines()[-1]
    pretrain(*common, "--steps", "2", "--resume", "auto", "--patch", "16x16")
    assert [r["step"] for r in log(out)] == [1, 2]


def full_band_model(folder: Path) -> Path:
    """A small 128x2 audio encoder (96d x 2 blocks, input 128x32) as synpat-transfer writes it."""
    import timm
    from safetensors.torch import save_file
    from synpat.audio.transfer import transfer_file

    torch.manual_seed(0)
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=(128, 16), patch_size=(128, 2), in_chans=1, num_classes=0, embed_dim=96, depth=2, num_heads=3
    )
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, str(folder / "encoder.safetensors"))
    (folder / "encoder.json").write_text(
        json.dumps({"embed_dim": 96, "depth": 2, "num_heads": 3, "patch_size": [128, 2]})
    )
    transfer_file(folder / "encoder.safetensors", folder / "audio.safetensors", (128, 32))
    return folder / "audio.safetensors"


def edited(model: Path, name: str, edit) -> Path:
    """A copy of `model` whose JSON `edit` changed in place."""
    out = model.with_name(f"{name}.safetensors")
    out.write_bytes(model.read_bytes())
    meta = json.loads(model.with_suffix(".json").read_text())
    edit(meta)
    out.with_suffix(".json").write_text(json.dumps(meta))
    return out


def test_hand_edited_patches_are_one_line_naming_the_file(tmp_path):
    """A [rows, cols] patch_size other than the kernel's, one of three numbers or a fraction, and a
    patch_stride of fractions, strings or booleans: one line naming the file, from the HEAR API and from
    synpat-finetune --init (which took them: tracebacks, a silently resampled kernel, int(2.5) = 2)."""
    from synpat.audio.finetune import run as finetune
    from synpat.audio.finetune_config import FinetuneConfig
    from synpat.hear import load_model

    model = full_band_model(tmp_path / "m")
    esc = make_esc50(tmp_path / "esc", per_class=1, seed=3)

    def arch(patch_size):
        return lambda meta: meta["arch"].update(patch_size=patch_size)

    def tokens(value):
        return lambda meta: meta.update(patch_stride=value)

    both = [
        (arch([128, 4]), r"its JSON says patch_size \[128, 4\], its weights have \[128, 2\]"),
        (arch([2, 128]), r"its JSON says patch_size \[2, 128\], its weights have \[128, 2\]"),
        (arch([128, 2, 1]), r"arch .*: expected an object of positive integers"),
        (arch([128, 2.5]), r"arch .*: expected an object of positive integers"),
        (arch([True, 2]), r"arch .*: expected an object of positive integers"),
    ]
    hear_only = [
        (tokens([[128, 2.5], [128, 2.5]]), r"patch_stride .*: expected \[\[rows, cols\], \[rows, cols\]\] of positive"),
        (tokens([["128", "2"], ["128", "2"]]), r"patch_stride .*: expected \[\[rows, cols\]"),
        (tokens([[True, 2], [True, 2]]), r"patch_stride .*: expected \[\[rows, cols\]"),
        (tokens([[128, 2], [128, 4]]), r"fine-tuned with tokens with gaps between them \(patch 128x2, stride 128x4\)"),
        (tokens([[64, 2], [64, 2]]), r"tensor patch_embed.proj.weight has shape \(96, 1, 128, 2\), the model needs"),
    ]
    for i, (edit, message) in enumerate(both + hear_only):
        path = edited(model, f"e{i}", edit)
        with pytest.raises(UserError, match=message) as err:
            load_model(str(path))
        assert f"e{i}." in str(err.value) and "\n" not in str(err.value), err.value
        if i < len(both):
            with pytest.raises(UserError, match=message):
                finetune(
                    FinetuneConfig(
                        init=str(path), data=f"esc50:{esc}", out=str(tmp_path / f"ft{i}"), epochs=1, threads=1
                    )
                )


def test_finetuning_an_older_finetuned_model_keeps_its_tokens(tmp_path):
    """A fine-tuned model's JSON of the older layout (the encoder's square arch beside patch_stride, its
    kernel 128x2) used as --init fine-tunes on its own 128x2 tokens (it was resampled to 16x16)."""
    from safetensors.torch import load_file
    from synpat.audio.finetune import run as finetune
    from synpat.audio.finetune_config import FinetuneConfig

    model = full_band_model(tmp_path / "m")
    older = edited(
        model,
        "older",
        lambda meta: meta.update(
            kind="finetuned", patch_stride=[[128, 2], [128, 2]], arch={**meta["arch"], "patch_size": 16}
        ),
    )
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=4)
    finetune(FinetuneConfig(init=str(older), data=f"esc50:{esc}", out=str(tmp_path / "ft"), epochs=1, batch_size=4,
                            test_folds="1", threads=1))  # fmt: skip
    best = json.loads((tmp_path / "ft" / "best.json").read_text())
    assert best["patch_stride"] == [[128, 2], [128, 2]] and best["arch"]["patch_size"] == [128, 2]
    assert load_file(tmp_path / "ft" / "best.safetensors")["patch_embed.proj.weight"].shape == (96, 1, 128, 2)


def sound_folder_stub(folder: Path) -> None:
    """What --sound-data is checked for before a run: a sound manifest and a .tar (an empty one: these tests
    stop before any clip is read)."""
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"kind": "sound", "sample_rate": 16000, "duration": 1.0}))
    (folder / "shard-000000.tar").write_bytes(b"")


def test_experiment_sound_patch_is_spelt_once_and_keys_the_pretraining(tmp_path):
    """--sound-patch: '' | tokens | MELxFRAMES. A bad one names all three (it said only MELxFRAMES); spellings
    of one patch share the pre-training stage (' 128 X 2', 'tokens' and 128x2; 16x16 of a patch-16 model and
    ''), another patch does not, and the images arm never depends on it."""
    from synpat.audio.experiment import parse_config
    from synpat.audio.stage_reuse import pretrain_key

    sound_folder_stub(tmp_path / "snd")
    base = ["--data", f"esc50:{tmp_path}", "--out", str(tmp_path / "x"), "--sound-data", str(tmp_path / "snd"),
            "--pretrain-on", "images,sounds,mix", "--pretrain-steps", "1", "--model", "mae_vit_tiny_patch16"]  # fmt: skip

    def keys(patch: str) -> list[str]:
        cfg = parse_config([*base, "--sound-patch", patch])
        return [pretrain_key(cfg, "r", arm, 1, tmp_path / "snd") for arm in ("images", "sounds", "mix")]

    square, rect = keys(""), keys("128x2")
    assert keys("16x16") == square and keys(" 128 X 02") == rect and keys("tokens") == rect
    assert square[0] == rect[0] and square[1:] != rect[1:] and keys("128x4")[1:] != rect[1:]
    assert parse_config([*base, "--sound-patch", " 128 X 2"]).sound_mae_patch() == "128x2"
    for bad in ("tokns", "square", "0x2"):
        with pytest.raises(UserError, match=rf"sound_patch='{bad}': expected '' \(the model's patch\), 'tokens'"):
            parse_config([*base, "--sound-patch", bad])


def test_experiment_frames_tile_every_pretrained_patch(tmp_path):
    """The input's frames are a multiple of every arm's patch width (with --sound-patch 128x3 the median clip
    was rounded to 16 frames only, and the transfer stage refused the shape after the pre-training); frames
    given that are none is refused before anything is written."""
    from synpat.audio.experiment import experiment, frame_unit, parse_config

    sound_folder_stub(tmp_path / "snd")
    esc = make_esc50(tmp_path / "esc", per_class=5, seed=5)
    base = ["--data", f"esc50:{esc}", "--out", str(tmp_path / "x"), "--sound-data", str(tmp_path / "snd"),
            "--pretrain-steps", "1", "--model", "mae_vit_tiny_patch16"]  # fmt: skip

    def unit(arms: str, patch: str) -> int:
        return frame_unit(parse_config([*base, "--pretrain-on", arms, "--sound-patch", patch]))

    assert unit("images", "128x3") == 16 and unit("sounds", "") == 16 and unit("sounds", "128x2") == 2
    assert unit("sounds,mix", "128x3") == 3 and unit("images,sounds", "128x3") == 48 and unit("mix", "16x5") == 5
    cfg = parse_config([*base, "--pretrain-on", "images,sounds", "--sound-patch", "128x3", "--frames", "112"])
    with pytest.raises(UserError, match=r"bad config value frames=112: must be a multiple of 48"):
        experiment(cfg)
    assert not (tmp_path / "x").exists()

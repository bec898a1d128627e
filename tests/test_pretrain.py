"""train/pretrain.py end to end on CPU: real shards from the renderer, real DeepSpeed (gloo), real launchers.

Run as a file this module is also the worker of the two-rank equivalence test
(`torchrun ... tests/test_pretrain.py equivalence SHARD OUT DEEPSPEED`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synpat.core.errors import UserError
from synpat.gen.programs import bundled_shaders_dir

REPO = Path(__file__).resolve().parents[1]
PRETRAIN = REPO / "train" / "pretrain.py"
TINY = [
    "--model",
    "mae_vit_tiny_patch16",
    "--img-size",
    "64",
    "--threads",
    "1",
    "--num-workers",
    "1",
    "--loader",
    "torch",
    "--blr",
    "1.5e-3",
    "--warmup",
    "0.1",
]


def env() -> dict:
    e = dict(os.environ, OMP_NUM_THREADS="1")
    e.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "synpat-torch-extensions"))
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(key, None)
    return e


def run(*args, ranks: int = 1) -> subprocess.CompletedProcess:
    launcher = (
        [sys.executable]
        if ranks == 1
        else [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"]
    )
    result = subprocess.run(
        [*launcher, *map(str, args)], capture_output=True, text=True, env=env(), cwd=REPO, timeout=600
    )
    return result


def pretrain(*args, ranks: int = 1) -> subprocess.CompletedProcess:
    result = run(PRETRAIN, *TINY, *args, ranks=ranks)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """512 images at 64 px of three bundled programs, in 4 shards of 128 (with DALI indexes)."""
    out = tmp_path_factory.mktemp("shards")
    programs = [bundled_shaders_dir() / f"{name}.glsl" for name in ("fbm", "voronoi", "waves")]
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
            "512",
            "--size",
            "64",
            "--shard-size",
            "128",
            "--overwrite",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert len(list(out.glob("*.tar"))) == 4
    return out


@pytest.fixture(scope="module")
def trained(shards, tmp_path_factory):
    """One process, global batch 32, 60 steps."""
    out = tmp_path_factory.mktemp("run1")
    result = pretrain(
        "--data",
        shards,
        "--out",
        out,
        "--batch-size",
        "32",
        "--steps",
        "60",
        "--log-every",
        "10",
        "--recon-every",
        "30",
        "--save-every",
        "0",
    )
    return out, result


def test_loss_falls_on_rendered_images(trained):
    out, _ = trained
    losses = [r["loss"] for r in log(out)]
    assert [r["step"] for r in log(out)] == [10, 20, 30, 40, 50, 60]
    assert losses[-1] < 0.85 * losses[0], losses


def test_run_writes_its_outputs(trained):
    out, result = trained
    assert sorted(p.name for p in (out / "recon").glob("*.png")) == ["step_00000030.png", "step_00000060.png"]
    picture = Image.open(out / "recon" / "step_00000060.png")
    assert picture.size == (8 * 64 + 7 * 2, 3 * 64 + 2 * 2)  # 8 images x original|masked|reconstruction
    rows = np.asarray(picture).astype(int)
    assert np.abs(rows[:64] - rows[66:130]).max() > 50  # the masked row differs from the original
    meta = json.loads((out / "encoder.json").read_text())
    assert {k: meta[k] for k in ("model", "embed_dim", "depth", "num_heads", "patch_size", "img_size", "in_chans")} == {
        "model": "vit_tiny_patch16_224",
        "embed_dim": 192,
        "depth": 12,
        "num_heads": 3,
        "patch_size": 16,
        "img_size": 64,
        "in_chans": 3,
    }
    assert list((out / "tb").glob("events.out.tfevents.*"))
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 60
    assert not list(out.rglob(".*.tmp"))
    assert "img/s" in result.stderr and "ETA" in result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("pretrain: mae_vit_tiny_patch16 60 steps (1920 images, 1 rank(s))") and "->" in summary


def test_the_torch_engine_takes_its_precision_from_the_settings_not_a_deepspeed_dict():
    """The torch engine has no DeepSpeed config; its precision is --precision (auto: fp32 on the CPU),
    and a checkpoint records it as before (ZeRO stage 0); DeepSpeed's comes from its config."""
    from synpat.train.pretrain import engine_config, run_settings
    from synpat.train.pretrain_config import parse_config
    from synpat.train.pretrain_inputs import InputPlan

    cpu = torch.device("cpu")
    IMAGES = InputPlan("image", None, 224, 3)
    for flags, precision in (([], "fp32"), (["--precision", "bf16"], "bf16")):
        cfg = parse_config(["--data", "x", *flags])
        assert engine_config(cfg, cpu) is None
        assert {k: run_settings(cfg, None, 1, cpu, IMAGES)[k] for k in ("precision", "zero_stage", "engine")} == {
            "precision": precision,
            "zero_stage": 0,
            "engine": "torch",
        }
    cfg = parse_config(["--data", "x", "--deepspeed", "zero2_fp16"])
    ds = engine_config(cfg, cpu)
    assert {k: run_settings(cfg, ds, 1, cpu, IMAGES)[k] for k in ("precision", "zero_stage", "engine")} == {
        "precision": "fp16",
        "zero_stage": 2,
        "engine": "deepspeed",
    }


def test_exported_encoder_loads_into_timm(trained):
    from synpat.train.export import load_encoder
    from synpat.train.mae import build_mae

    out, _ = trained
    vit = load_encoder(out).eval()  # strict load into timm.create_model('vit_tiny_patch16_224', img_size=64)
    mae = build_mae("mae_vit_tiny_patch16", img_size=64).eval()
    weights = torch.load(out / "checkpoints" / "step_00000060" / "torch_engine.pt", weights_only=False)
    mae.load_state_dict(weights["module"])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(vit.forward_features(x), mae.features(x), rtol=0, atol=1e-5)


@pytest.mark.parametrize("source", ["shards", "stream", "stream-dali"])
def test_resume_gives_the_same_next_steps(source, shards, tmp_path):
    """Run 6 steps (checkpoints at 3 and 6); go back to step 3 as if killed there; resume: steps 4-6 repeat exactly."""
    out = tmp_path / "run"
    data = (
        ("--data", shards)
        if source == "shards"
        else ("--stream", ",".join(str(bundled_shaders_dir() / f"{n}.glsl") for n in ("fbm", "waves")))
    )
    if source == "stream-dali":
        data += ("--loader", "dali")
    args = (
        *data,
        "--out",
        out,
        "--batch-size",
        "16",
        "--steps",
        "6",
        "--log-every",
        "1",
        "--save-every",
        "3",
        "--recon-every",
        "100",
    )
    pretrain(*args)
    checkpoints = out / "checkpoints"
    (checkpoints / "latest.json").write_text(json.dumps({"tag": "step_00000003", "step": 3}))
    for path in (checkpoints / "step_00000006").iterdir():
        path.unlink()
    (checkpoints / "step_00000006").rmdir()
    before = log(out)
    pretrain(*args, "--resume", "auto")
    records = log(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]  # steps 4-6 of the stopped run are dropped, not doubled
    assert records[:3] == before[:3]
    for first, again in zip(before[3:6], records[3:]):
        assert again["loss"] == pytest.approx(first["loss"], rel=1e-6, abs=0)
        assert again["lr"] == pytest.approx(first["lr"], rel=1e-9)


def test_bad_config_is_one_line_and_exit_2(tmp_path):
    from synpat.train.pretrain_config import parse_config

    def error(*argv) -> str:
        with pytest.raises(UserError) as err:
            parse_config(["--data", "x", *argv])
        return str(err.value)

    assert "unknown config key(s) 'batchsize'" in error("--set", "batchsize=3")
    assert error("--batch-size", "-3") == "bad config value batch_size=-3: must be > 0"
    assert error("--batch-size", "many") == "bad config value batch_size='many': not a int"
    assert "use one of" in error("--model", "vit_huge")
    assert "the input 100x100 is not a multiple of the patch 16x16" in error("--img-size", "100")
    assert "neither a bundled config" in error("--deepspeed", "zero9")
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("batch_size: 8\nepoch: 3\n")
    assert "unknown config key(s) 'epoch'" in error("--config", str(yaml_file))
    yaml_file.write_text("batch_size: 8\nmask_ratio: 0.5\nnorm_pix_loss: false\n")
    cfg = parse_config(["--config", str(yaml_file), "--data", "x", "--set", "batch_size=4", "--mask-ratio", "0.6"])
    assert (cfg.batch_size, cfg.mask_ratio, cfg.norm_pix_loss) == (4, 0.6, False)

    assert "unrecognized arguments: --no-such-flag" in error("--no-such-flag", "1")

    result = run(PRETRAIN, "--data", "x", "--set", "blr=fast")
    assert result.returncode == 2 and result.stderr == "pretrain: error: bad config value blr='fast': not a float\n"
    result = run(PRETRAIN, "--data", tmp_path / "missing", "--out", tmp_path / "run")  # found when the loader starts
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"pretrain: error: --data: shard {tmp_path / 'missing'} does not exist"
    )


def test_two_ranks_match_one_process_exactly(shards, tmp_path):
    """Same global batch of 16 and masks: one process (ZeRO 0) and two ranks of 8 (ZeRO 2) give the same
    losses and weights after 3 steps."""
    one, two = tmp_path / "one.pt", tmp_path / "two.pt"
    shard = sorted(shards.glob("*.tar"))[0]
    for ranks, out, deepspeed in ((1, one, "zero0_fp32"), (2, two, "zero2_fp32")):
        result = run(__file__, "equivalence", shard, out, deepspeed, ranks=ranks)
        assert result.returncode == 0, result.stderr[-3000:]
    a, b = torch.load(one), torch.load(two)
    assert a["losses"][2] < a["losses"][0]
    torch.testing.assert_close(b["losses"], a["losses"], rtol=1e-5, atol=0)
    for name in a["state"]:
        torch.testing.assert_close(b["state"][name], a["state"][name], rtol=1e-4, atol=1e-5)


def test_two_ranks_train_like_one_process(shards, trained, tmp_path):
    """torchrun, 2 ranks x 16 = the single run's global batch of 32: disjoint shards per rank, and the
    loss curve within tolerance of the single-process one (the data order differs)."""
    from synpat.train.loaders import LoaderConfig, build_loader

    sizes = [
        len(build_loader(LoaderConfig(data=str(shards), batch_size=16, loader="torch", rank=r, world_size=2)))
        for r in (0, 1)
    ]
    assert sizes == [16, 16]  # 2 of the 4 shards of 128 each
    out = tmp_path / "run2"
    result = pretrain(
        "--data",
        shards,
        "--out",
        out,
        "--batch-size",
        "16",
        "--steps",
        "60",
        "--log-every",
        "10",
        "--recon-every",
        "60",
        "--save-every",
        "0",
        ranks=2,
    )
    assert "60 steps (1920 images, 2 rank(s))" in result.stdout
    single, double = [r["loss"] for r in log(trained[0])], [r["loss"] for r in log(out)]
    assert double[-1] < 0.85 * double[0]
    assert double[-1] == pytest.approx(single[-1], rel=0.15)


# -- the two-rank equivalence worker ---------------------------------------------------------------


def shard_images(tar: Path, n: int, size: int) -> torch.Tensor:
    """The first n images of a shard, resized to size x size: (n, 3, size, size) float, ImageNet-normalised."""
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    images = []
    with tarfile.open(tar) as t:
        for member in t:
            if member.name.endswith(".jpg") and len(images) < n:
                img = Image.open(io.BytesIO(t.extractfile(member).read())).convert("RGB").resize((size, size))
                images.append(torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255)
    x = torch.stack(images)
    return (x - torch.tensor(IMAGENET_DEFAULT_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_DEFAULT_STD).view(
        1, 3, 1, 1
    )


def equivalence_worker(tar: str, out: str, deepspeed: str) -> None:
    import torch.distributed as dist
    from synpat.train.deepspeed_configs import deepspeed_config
    from synpat.train.deepspeed_setup import build_engine, fill_deepspeed_config, init_distributed
    from synpat.train.export import full_fp32_state
    from synpat.train.mae import build_mae
    from synpat.train.pretrain import mask_noise

    torch.set_num_threads(1)
    rank, world, device = init_distributed()
    torch.manual_seed(0)
    model = build_mae("mae_vit_tiny_patch16", img_size=32)
    batch = 16 // world
    images = shard_images(Path(tar), 16, 32)[rank * batch : (rank + 1) * batch]
    ds = fill_deepspeed_config(deepspeed_config(deepspeed), batch, 1, world, 1e-3, (0.9, 0.95), 0.05)
    engine = build_engine(model, ds, 0.05, {"peak_lr": 1e-3, "warmup_steps": 1, "total_steps": 4, "min_lr": 0.0})
    losses = []
    for step in range(3):
        loss, _, _ = engine(images, mask_noise(0, step, rank, batch, world, model.patch_embed.grid_size, device))
        engine.backward(loss)
        engine.step()
        total = loss.detach().clone()
        dist.all_reduce(total)
        losses.append(total.item() / world)
    state = full_fp32_state(engine)
    if rank == 0:
        torch.save({"losses": torch.tensor(losses), "state": state}, out)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__" and sys.argv[1] == "equivalence":
    equivalence_worker(*sys.argv[2:5])


def test_stream_and_dali_feed_the_same_trainer(tmp_path):
    """--stream renders live (no disk) through the DALI loader, and resumes from its step."""
    programs = ",".join(str(bundled_shaders_dir() / f"{n}.glsl") for n in ("fbm", "waves"))
    out = tmp_path / "stream"
    first = pretrain(
        "--stream",
        programs,
        "--loader",
        "dali",
        "--out",
        out,
        "--batch-size",
        "8",
        "--steps",
        "4",
        "--log-every",
        "1",
        "--save-every",
        "2",
        "--recon-every",
        "0",
    )
    assert "4 steps" in first.stdout.strip().splitlines()[-1]
    records = log(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4] and all(np.isfinite(r["loss"]) for r in records)
    assert (out / "encoder.safetensors").is_file() and list((out / "recon").glob("*.png"))
    again = pretrain(
        "--stream",
        programs,
        "--loader",
        "dali",
        "--out",
        out,
        "--batch-size",
        "8",
        "--steps",
        "6",
        "--log-every",
        "1",
        "--save-every",
        "2",
        "--recon-every",
        "0",
        "--resume",
        "auto",
    )
    assert [r["step"] for r in log(out)][-2:] == [5, 6], again.stderr[-2000:]

"""synpat-gen's JPEG encoders (synpat.gen.jpeg): the torch path (torchvision's encode_jpeg; nvJPEG on a
GPU, the same function on CPU tensors here through tests/gen_torch_cpu.py) is deterministic
across runs and a kill/--resume, recorded in the manifest, refused when a resume would switch encoders,
and decodes close to Pillow's files."""

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import kill_gen, run_gen
from PIL import Image, JpegImagePlugin
from synpat.core.devices import gpu_present
from synpat.gen.jpeg import torch_encode_jpeg
from synpat.gen.programs import find_programs
from synpat.gen.redraw import Redraws
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler
from synpat.gen.shards import encode_images
from test_gen_cli import one_error_line, tars

TORCH_CPU = Path(__file__).with_name("gen_torch_cpu.py")  # synpat-gen with the torch encoder on the CPU
ARGS = ("--count", 60, "--size", 32, "--shard-size", 10, "--seed", 3, "--workers", 2)


def decoded(files: list[bytes]) -> np.ndarray:
    """JPEG files -> (N, H, W, 3) float64 pixels."""
    return np.stack([np.asarray(Image.open(io.BytesIO(f)).convert("RGB")) for f in files]).astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) pairs -> (N,) dB (inf where equal)."""
    mse = ((np.asarray(a, np.float64) - b) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / mse)


def manifest_encoder(out) -> str:
    return json.loads((out / "manifest.json").read_text())["settings"]["encoder"]


def test_torch_encoder_same_bytes_across_runs_and_a_kill_resume(small_shaders, tmp_path):
    full, again, killed = tmp_path / "full", tmp_path / "again", tmp_path / "killed"
    for out in (full, again):
        proc = run_gen("--shaders", small_shaders, "--out", out, *ARGS, "--jpeg-encoder", "gpu", script=TORCH_CPU)
        assert proc.returncode == 0, proc.stderr
        assert "jpg by torchvision-cpu" in proc.stderr.splitlines()[-1]
    assert len(tars(full)) == 6 and tars(full) == tars(again)
    assert manifest_encoder(full) == "torchvision-cpu"

    killer = kill_gen(killed, 2, "--shaders", small_shaders, *ARGS, "--jpeg-encoder", "gpu", script=TORCH_CPU)
    done = len(tars(killed))
    assert killer == -signal.SIGKILL and 2 <= done < 6
    other = run_gen("--shaders", small_shaders, "--out", killed, *ARGS, "--resume")  # Pillow now: refused
    assert "encoded by torchvision-cpu, this run would use pillow" in one_error_line(other)
    assert len(tars(killed)) == done
    resumed = run_gen(
        "--shaders", small_shaders, "--out", killed, *ARGS, "--jpeg-encoder", "gpu", "--resume", script=TORCH_CPU
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done} already done" in resumed.stderr and tars(killed) == tars(full)

    pillow = tmp_path / "pillow"  # the default run records Pillow, and a torch resume of it is refused
    assert run_gen("--shaders", small_shaders, "--out", pillow, *ARGS).returncode == 0
    assert manifest_encoder(pillow) == "pillow"
    switch = run_gen(
        "--shaders", small_shaders, "--out", pillow, *ARGS, "--jpeg-encoder", "gpu", "--resume", script=TORCH_CPU
    )
    assert "encoded by pillow, this run would use torchvision-cpu" in one_error_line(switch)


@pytest.mark.skipif(gpu_present(), reason="this machine has a GPU")
def test_gpu_encoder_without_cuda_is_one_line(small_shaders, tmp_path):
    proc = run_gen(
        "--shaders", small_shaders, "--out", tmp_path / "out", "--count", 10, "--size", 32, "--jpeg-encoder", "gpu"
    )
    assert "--jpeg-encoder gpu: no CUDA device" in one_error_line(proc)
    assert not (tmp_path / "out").exists()


def test_gpu_encoder_refuses_other_formats_and_auto_uses_pillow_without_torch_on_a_cpu_renderer(
    small_shaders, tmp_path
):
    proc = run_gen(
        "--shaders",
        small_shaders,
        "--out",
        tmp_path / "out",
        "--count",
        10,
        "--size",
        32,
        "--jpeg-encoder",
        "gpu",
        "--format",
        "png",
    )
    assert "--jpeg-encoder gpu: encodes jpg only, got --format png" in one_error_line(proc)
    code = (
        "import sys; from synpat.gen.jpeg import choose_encoder; from synpat.gen.renderer import Renderer; "
        "r = Renderer(16); e = choose_encoder('auto', 'jpg', r.device, None); "
        "print(e.name, e.device, 'torch' in sys.modules)"
    )
    if gpu_present():
        pytest.skip("the EGL device may be a GPU here")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.split() == ["pillow", "None", "False"], result.stdout + result.stderr


def test_torch_encoder_decodes_close_to_pillow_with_its_subsampling_and_tables(small_shaders):
    programs = find_programs([small_shaders])
    with Renderer(64) as renderer:
        images = renderer.render_many(programs, Sampler(len(programs), seed=1).range(0, 12))  # (12, 64, 64, 3)
    pillow = encode_images(images, "jpg", 95)
    files = torch_encode_jpeg(images, 95, "cpu")
    import torch

    assert torch_encode_jpeg(torch.from_numpy(images), 95, "cpu") == files  # a tensor or an array: the same
    assert torch_encode_jpeg(images[:0], 95, "cpu") == []
    assert len(files) == 12 and all(f[:2] == b"\xff\xd8" and f[-2:] == b"\xff\xd9" for f in files)
    ours, theirs = Image.open(io.BytesIO(files[0])), Image.open(io.BytesIO(pillow[0]))
    assert JpegImagePlugin.get_sampling(ours) == JpegImagePlugin.get_sampling(theirs) == 2  # 4:2:0
    assert ours.quantization == theirs.quantization  # quality 95's tables
    torch_psnr, pillow_psnr = psnr(decoded(files), images), psnr(decoded(pillow), images)
    assert (torch_psnr >= pillow_psnr - 0.5).all(), (torch_psnr, pillow_psnr)
    assert psnr(decoded(files), decoded(pillow)).min() >= 40
    assert torch_psnr.mean() > 25 and pillow_psnr.mean() < 60  # lossy, and not an empty picture


@pytest.mark.gpu
def test_nvjpeg_from_the_rendered_cuda_tensor_same_bytes_twice_and_close_to_pillow(small_shaders, tmp_path):
    runs = {}
    for name, encoder in (("a", "gpu"), ("b", "auto"), ("pillow", "cpu")):
        out = tmp_path / name
        proc = run_gen("--shaders", small_shaders, "--out", out, *ARGS, "--size", 64, "--jpeg-encoder", encoder)
        assert proc.returncode == 0, proc.stderr
        assert "reading images back" not in proc.stderr, proc.stderr  # interop, not the host
        runs[name] = out
    assert manifest_encoder(runs["a"]) == manifest_encoder(runs["b"]) == "nvjpeg"
    assert tars(runs["a"]) == tars(runs["b"])
    import webdataset as wds

    files = {
        name: [s["jpg"] for s in wds.WebDataset(str(out / "synpat-{000000..000005}.tar"), shardshuffle=False)]
        for name, out in runs.items()
    }
    programs = find_programs([small_shaders])
    sampler = Sampler(len(programs), seed=3)
    with Renderer(64) as renderer:  # as synpat-gen renders them: one-colour samples drawn again
        images, _ = renderer.render_varied(programs, sampler.range(0, 60), Redraws(sampler.redraw))
    nv, pil = psnr(decoded(files["a"]), images), psnr(decoded(files["pillow"]), images)
    assert (nv >= pil - 0.5).all(), (nv, pil)  # 4:4:4 at the same quality: no worse than Pillow's 4:2:0

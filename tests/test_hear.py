"""The HEAR API on a transferred and on a fine-tuned model: timestamps and shapes at many clip
lengths, cost that follows the clip, finer hops, odd inputs, no triton, and the HEAR validator's checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from audio_fixtures import make_image_encoder
from synpat.audio import hear as hear_impl
from synpat.audio.fbank import log_mel, log_mel_batch
from synpat.audio.transfer import transfer_file
from synpat.core.errors import UserError
from synpat.hear import get_scene_embeddings, get_timestamp_embeddings, load_model

RATE = 16000
HALF_COLUMN_MS = 87.5  # a 16-frame column reads 25 + 15 x 10 = 175 ms
# clip lengths in ms: 0.5 to 10.3 s, odd milliseconds, the validator's 1.07/1.98/2.74/4.0 s, and lengths
# around the model's 1.28 s window (128 frames) and 10.24 s
LENGTHS_MS = (500, 537, 999, 1000, 1070, 1283, 1301, 1980, 2001, 2740, 3333, 4000, 5111, 7777, 9999, 10240, 10300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hear")
    out = folder / "audio.safetensors"
    transfer_file(make_image_encoder(folder / "image.safetensors"), out, (64, 128))
    return out


@pytest.fixture(scope="module")
def model(model_file):
    return load_model(str(model_file))


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(hear_impl, "_warned", set())  # warnings are given once per process


def test_attributes(model):
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == 96 and model.timestamp_embedding_size == 96
    assert repr(model) == (
        "AudioEmbedder(ViT 96d x 2 blocks, patch 16x16, input 64x128, timestamps every 160 ms, on cpu)"
    )


def test_plain_encoder_computes_what_timm_does(model_file, model):
    """The HEAR path's encoder (no timm) gives timm's patch tokens, at the model's width and narrower."""
    from synpat.audio.vit_audio import build_audio_vit, load_encoder_state, read_model_file
    from synpat.train.vit_arch import ViTArch

    state, meta = read_model_file(model_file)
    torch.manual_seed(0)
    for frames in (128, 48):  # 48 frames: 3 of the 8 columns, the position code cut
        vit = build_audio_vit(ViTArch.from_json(meta["arch"]), (64, frames))
        load_encoder_state(vit, state)
        spec = torch.randn(3, 1, 64, frames)
        with torch.no_grad():
            want = vit.eval().forward_features(spec)[:, 1:].reshape(3, 4, frames // 16, 96)
            got = model.encoder.patch_tokens(spec)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_batched_fbank_is_the_per_clip_fbank():
    torch.manual_seed(0)
    for n, samples, max_frames in ((3, 16000, 1 << 15), (2, 401, 1 << 15), (4, 12345, 7), (1, 400, 1)):
        waves = torch.randn(n, samples) * 0.1
        want = torch.stack([log_mel(wave, 64) for wave in waves])
        torch.testing.assert_close(log_mel_batch(waves, 64, max_frames), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("hop_ms", [160, 40])
def test_timestamps_and_shapes_at_many_lengths(model_file, hop_ms):
    model = load_model(str(model_file), hop_ms=hop_ms)
    torch.manual_seed(0)
    for length_ms in LENGTHS_MS:
        samples = length_ms * RATE // 1000
        emb, ts = get_timestamp_embeddings(torch.rand(2, samples) * 2 - 1, model)
        count = ts.shape[1]
        assert emb.shape == (2, count, 96) and ts.shape == (2, count) and ts.dtype == emb.dtype == torch.float32
        assert torch.isfinite(emb).all() and torch.equal(ts[0], ts[1]), length_ms
        t = ts[0].double()
        assert 0 <= t[0] and t[-1] <= length_ms, (length_ms, t[0], t[-1])  # inside the clip
        if count > 1:
            torch.testing.assert_close(t.diff(), torch.full((count - 1,), float(hop_ms), dtype=torch.float64))
        assert t[0] - HALF_COLUMN_MS <= 0 and t[-1] + HALF_COLUMN_MS >= length_ms, length_ms  # start and end covered
        assert t[0] - hop_ms < 0 and t[-1] + hop_ms > length_ms, length_ms  # no timestamp left out
        if hop_ms <= HALF_COLUMN_MS:  # a fine grid holds the column that starts at the clip's start
            assert ((t - HALF_COLUMN_MS) / hop_ms).round().sub((t - HALF_COLUMN_MS) / hop_ms).abs().max() < 1e-9


def test_the_issue_lengths(model):
    """The lengths the issue reported timestamps past the end for, with the old and the new last timestamp."""
    for length_ms, first, last in (
        (1000, 40.0, 1000.0),
        (1500, 60.0, 1500.0),
        (1980, 60.0, 1980.0),
        (2000, 80.0, 2000.0),
        (5000, 40.0, 5000.0),
        (3000, 87.5, 2967.5),
    ):
        _, ts = get_timestamp_embeddings(torch.zeros(1, length_ms * 16), model)
        assert (ts[0, 0].item(), ts[0, -1].item()) == (first, last), length_ms


def test_finer_hop_holds_the_default_columns(model_file, model):
    """hop 40 ms: 4 encoder runs shifted by 4 frames; every 4th column is a default (160 ms) column."""
    fine = load_model(str(model_file), hop_ms=40)
    torch.manual_seed(2)
    audio = torch.rand(2, 3 * RATE) * 2 - 1  # 3 s: the default grid starts at the clip's start
    coarse_emb, coarse_ts = get_timestamp_embeddings(audio, model)
    fine_emb, fine_ts = get_timestamp_embeddings(audio, fine)
    assert fine_ts[0, :3].tolist() == [7.5, 47.5, 87.5] and fine_ts.shape[1] == 75 and coarse_ts.shape[1] == 19
    assert torch.equal(fine_ts[:, 2::4], coarse_ts)
    torch.testing.assert_close(fine_emb[:, 2::4], coarse_emb, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(fine_emb[:, 3], fine_emb[:, 2], atol=1e-3)  # shifted columns differ
    torch.testing.assert_close(get_scene_embeddings(audio, fine), get_scene_embeddings(audio, model))


def test_hop_from_the_model_json_and_bad_hops(model_file, tmp_path):
    copy = tmp_path / "hop.safetensors"
    shutil.copy(model_file, copy)
    meta = json.loads(model_file.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**meta, "hear_hop_ms": 80}))
    assert load_model(str(copy)).hop_frames == 8
    assert load_model(str(copy), hop_ms=20).hop_frames == 2  # the argument wins
    with pytest.raises(UserError) as err:
        load_model(str(model_file), hop_ms=50)
    assert str(err.value) == (
        "hop_ms 50: expected a hop in ms that divides the 160 ms patch column in whole "
        "10 ms frames: 10, 20, 40, 80, 160"
    )
    copy.with_suffix(".json").write_text(json.dumps({**meta, "hear_hop_ms": "fast"}))
    with pytest.raises(UserError, match=r"hop\.json: hear_hop_ms 'fast': expected a hop in ms"):
        load_model(str(copy))


def test_cost_follows_the_clip(tmp_path):
    """A 10.24 s-wide model: a 1 s clip goes through the encoder as its own 7 columns, a 10 s clip as 63."""
    out = tmp_path / "wide.safetensors"
    transfer_file(make_image_encoder(tmp_path / "image.safetensors"), out, (64, 1024))
    model = load_model(str(out))
    tokens = []
    hook = model.encoder.patch_embed.proj.register_forward_hook(
        lambda m, i, o: tokens.append(o.shape[0] * o.shape[2] * o.shape[3])
    )
    get_scene_embeddings(torch.zeros(4, RATE), model)
    short = sum(tokens)
    tokens.clear()
    get_scene_embeddings(torch.zeros(4, 10 * RATE), model)
    long = sum(tokens)
    hook.remove()
    assert (short, long) == (4 * 4 * 7, 4 * 4 * 63) and short * 4 <= long


def test_long_clips_run_in_windows_and_calls(model, monkeypatch):
    """Columns past the model's width go through further windows; few windows per encoder call
    (bounded memory) give the same numbers as all at once."""
    torch.manual_seed(3)
    audio = torch.rand(2, 61 * RATE) * 2 - 1
    emb, ts = get_timestamp_embeddings(audio, model)
    assert emb.shape == (2, 382, 96) and ts[0, -1] <= 61000 and ts[0, -1] + HALF_COLUMN_MS >= 61000
    calls = []
    original = model.encoder.patch_tokens
    monkeypatch.setattr(hear_impl, "TOKENS_PER_CALL", 64)  # two 8-column windows of 4 rows per call
    monkeypatch.setattr(model.encoder, "patch_tokens", lambda x: calls.append(x.shape[0]) or original(x))
    chunked, chunked_ts = get_timestamp_embeddings(audio, model)
    assert max(calls) == 2 and torch.equal(chunked_ts, ts)
    torch.testing.assert_close(chunked, emb, rtol=1e-5, atol=1e-5)


def test_twenty_minutes(model):
    """HEAR's longest clip: 20 min at 16 kHz in one call."""
    audio = torch.zeros(1, 20 * 60 * RATE)
    audio[0, ::997] = 0.5
    emb, ts = get_timestamp_embeddings(audio, model)
    assert emb.shape == (1, 7500, 96) and torch.isfinite(emb).all()
    assert ts[0, 0] == HALF_COLUMN_MS and ts[0, -1] <= 1_200_000 and ts[0, -1] + HALF_COLUMN_MS >= 1_200_000
    assert (ts[0].double().diff() - 160).abs().max() < 1e-3


def test_deterministic_and_batch_independent(model):
    torch.manual_seed(0)
    audio = torch.randn(2, 16000) * 0.1
    a, b = get_scene_embeddings(audio, model), get_scene_embeddings(audio, model)
    assert torch.equal(a, b)
    alone = get_scene_embeddings(audio[1:], model)
    torch.testing.assert_close(alone[0], a[1], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(a[0], a[1])  # different clips, different embeddings
    columns, _ = model._columns(audio, model.column)
    torch.testing.assert_close(a, model.encoder.fc_norm(columns.mean(dim=1)))  # scene: mean of the columns


def test_finetuned_model_loads(tmp_path, model):
    """A fine-tuned file carries its own normalisation and input shape."""
    from safetensors.torch import save_file
    from synpat.audio.vit_audio import build_audio_vit
    from synpat.train.vit_arch import ViTArch

    vit = build_audio_vit(ViTArch(64, 1, 2), (32, 48), num_classes=3)
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, str(tmp_path / "best.safetensors"))
    (tmp_path / "best.json").write_text(
        json.dumps(
            {
                "kind": "finetuned",
                "arch": {"embed_dim": 64, "depth": 1, "num_heads": 2},
                "input_shape": [32, 48],
                "norm_mean": -6.0,
                "norm_std": 3.0,
                "classes": ["a", "b", "c"],
            }
        )
    )
    tuned = load_model(str(tmp_path / "best.safetensors"))
    assert tuned.norm_mean == -6.0 and tuned.scene_embedding_size == 64
    # 0.75 s: columns from the clip's start every 160 ms; the last one (727.5 ms) reads to 815 ms
    emb, ts = get_timestamp_embeddings(torch.randn(2, 12000) * 0.1, tuned)
    assert emb.shape == (2, 5, 64) and ts[0].tolist() == [87.5, 247.5, 407.5, 567.5, 727.5]
    with pytest.raises(UserError, match="not found"):
        load_model(str(tmp_path / "missing.safetensors"))
    with pytest.raises(UserError, match="^load_model: synpat.hear has no default model; pass the .safetensors"):
        load_model()


def test_integer_pcm_of_every_width_is_scaled_by_its_range(model):
    torch.manual_seed(1)
    audio = ((torch.rand(2, 8000) - 0.5) * 0.5).double()
    want = get_scene_embeddings(audio.float(), model)
    for dtype, bits in ((np.int16, 16), (np.int32, 32), (np.int64, 64), (np.int8, 8)):
        pcm = np.round(audio.numpy() * 2.0 ** (bits - 1)).astype(dtype)
        got = get_scene_embeddings(pcm, model)
        torch.testing.assert_close(got, want, rtol=0.05 if bits == 8 else 1e-3, atol=0.05 if bits == 8 else 1e-3)
    for dtype, bits in ((np.uint8, 8), (np.uint16, 16)):  # unsigned: centred on 2^(bits-1)
        pcm = np.round((audio.numpy() + 1) * 2.0 ** (bits - 1)).astype(dtype)
        tol = 0.05 if bits == 8 else 1e-3
        torch.testing.assert_close(get_scene_embeddings(pcm, model), want, rtol=tol, atol=tol)
    torch.testing.assert_close(
        get_scene_embeddings(torch.as_tensor(np.round(audio.numpy() * 2.0**31)).to(torch.int32), model),
        want,
        rtol=1e-3,
        atol=1e-3,
    )


def test_integer_pcm_holding_narrower_values_is_warned_about_once(model):
    pcm16 = (np.random.default_rng(0).uniform(-0.5, 0.5, (1, 8000)) * 32768).astype(np.int16)
    with pytest.warns(UserWarning) as caught:
        get_scene_embeddings(pcm16.astype(np.int64), model)
        get_scene_embeddings(pcm16.astype(np.int64), model)
    assert len(caught) == 1 and str(caught[0].message) == (
        "audio: int64 PCM whose samples all fit in 16 bits (at most -289 dBFS after scaling by 2^63): if they are "
        "16-bit values, pass audio.astype(numpy.int16) or float samples in [-1, 1]"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_scene_embeddings(pcm16, model)  # int16 itself: no word


def test_loud_float_is_warned_about_once(model):
    raw = torch.randn(1, 8000) * 3000  # int16 values in a float array
    with pytest.warns(UserWarning) as caught:
        get_scene_embeddings(raw, model)
        get_timestamp_embeddings(raw, model)
    assert len(caught) == 1 and str(caught[0].message).startswith("audio: float samples peak at ")
    assert "far outside [-1, 1]: raw PCM values? Divide by the PCM's full scale (32768 for 16-bit)" in str(
        caught[0].message
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_scene_embeddings(torch.rand(1, 8000) * 3.6 - 1.8, model)  # a little past full scale: no word


def test_bad_inputs_get_one_line(model):
    torch.manual_seed(1)
    audio = (torch.rand(2, 8000) - 0.5) * 0.5
    nan = audio.clone()
    nan[1, 5] = float("nan")
    nan[0, 7] = float("inf")
    dtype_line = "audio: dtype {} is not audio; expected float samples in [-1, 1] or integer PCM"
    cases = (
        (nan, "audio: 2 of its 16000 samples are NaN or Inf"),
        (audio[0], "audio: expected a batch (n, samples), got shape (8000,); add the batch dimension: audio[None]"),
        (audio[None], "audio: expected a batch (n, samples), got shape (1, 2, 8000)"),
        (audio > 0, dtype_line.format("bool")),
        ((audio > 0).numpy(), dtype_line.format("bool")),
        (audio.to(torch.complex64), dtype_line.format("complex64")),
        (audio.numpy().astype(np.complex128), dtype_line.format("complex128")),
        (np.array([["a", "b"]]), dtype_line.format("<U1")),
        (np.empty((1, 500), dtype=object), dtype_line.format("object")),
        (
            torch.empty(1, 8000, device="meta"),
            "audio: the tensor is on the meta device, which holds no samples; pass it on the cpu or a cuda device",
        ),
        (
            torch.zeros(2, 0),
            "audio: clips of 0 samples (0 ms) are shorter than one 25 ms fbank window (400 samples "
            "at 16000 Hz); nothing to embed",
        ),
        (
            torch.zeros(1, 10),
            "audio: clips of 10 samples (0.625 ms) are shorter than one 25 ms fbank window (400 "
            "samples at 16000 Hz); nothing to embed",
        ),
    )
    for bad, message in cases:
        for embed in (get_scene_embeddings, get_timestamp_embeddings):
            with pytest.raises(UserError) as err:
                embed(bad, model)
            assert str(err.value) == message
    emb, ts = get_timestamp_embeddings(audio[:0], model)
    one, one_ts = get_timestamp_embeddings(audio[:1], model)
    assert emb.shape == (0, *one.shape[1:]) == (0, 4, 96) and ts.shape == (0, one_ts.shape[1])
    assert get_scene_embeddings(audio[:0], model).shape == (0, 96)
    short, short_ts = get_timestamp_embeddings(torch.randn(1, 400) * 0.1, model)  # one fbank window: one column
    assert short.shape == (1, 1, 96) and short_ts.tolist() == [[25.0]]
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            load_model("x.safetensors", device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_audio_and_model_on_any_device(model_file):
    torch.manual_seed(4)
    audio = torch.rand(2, 20000) * 2 - 1
    want = get_scene_embeddings(audio, load_model(str(model_file)))
    on_gpu = load_model(str(model_file), device="cuda")
    for given in (audio, audio.cuda()):
        got = get_scene_embeddings(given, on_gpu)
        assert got.device.type == "cpu"
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)
    cpu_model = load_model(str(model_file))
    torch.testing.assert_close(get_scene_embeddings(audio.cuda(), cpu_model), want)


def test_embedding_imports_no_triton_nor_torch_compile(model_file):
    """HEAR's tools import tensorflow first, and tensorflow next to triton crashes: neither importing
    synpat.hear nor loading and embedding may import triton, torch._dynamo, torch._inductor or timm."""
    code = (
        "import sys, torch\n"
        "import synpat.hear as hear\n"
        "after_import = sorted(m for m in sys.modules if m.split('.')[0] in ('triton', 'timm', 'torchvision')"
        " or m.startswith(('torch._dynamo', 'torch._inductor')))\n"
        f"model = hear.load_model({str(model_file)!r})\n"
        "emb, ts = hear.get_timestamp_embeddings(torch.rand(2, 20000) - 0.5, model)\n"
        "scene = hear.get_scene_embeddings(torch.rand(2, 20000) - 0.5, model)\n"
        "after_embedding = sorted(m for m in sys.modules if m.split('.')[0] in ('triton', 'timm', 'torchvision')"
        " or m.startswith(('torch._dynamo', 'torch._inductor')))\n"
        "print(after_import, after_embedding, tuple(emb.shape), tuple(scene.shape))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] [] (2, 8, 96) (2, 96)"


def _validator_checks(module, model, hop_ms: float) -> list[str]:
    """The checks of hearvalidator 2021.0.6 (hear-validator's validate.py) and of 2021.0.2 (PyPI), named
    as there, on white noise in [-1, 1]; returns the warnings they would print."""
    said = []
    # check_load_model, check_sample_rate, check_embedding_size
    assert isinstance(model, torch.nn.Module)
    assert model.sample_rate in (16000, 22050, 32000, 44100, 48000)
    assert isinstance(model.scene_embedding_size, int) and isinstance(model.timestamp_embedding_size, int)
    # check_timestamp_embeddings: 2021.0.6 at 1.07, 1.98 and 4.0 s; 2021.0.2 with 16 clips of 2.0 s
    for num_audio, length in ((2, 1.07), (2, 1.98), (2, 4.0), (16, 2.0)):
        audio = torch.rand((num_audio, int(length * model.sample_rate))) * 2 - 1.0
        embeddings, timestamps = module.get_timestamp_embeddings(audio, model)
        assert embeddings.dtype == torch.float32  # "Expected embeddings to be float32"
        embeddings, timestamps = embeddings.detach().cpu().numpy(), timestamps.detach().cpu().numpy()
        assert embeddings.ndim == 3 and timestamps.ndim == 2  # "Output dimensions ... incorrect"
        assert embeddings.shape[0] == num_audio  # "Passed in a batch of ..."
        assert embeddings.shape[:2] == timestamps.shape  # "Output shape of the timestamps"
        assert embeddings.shape[2] == model.timestamp_embedding_size  # "Output embedding size is ..."
        diff = np.diff(timestamps)
        avg = np.mean(diff)
        assert np.max(np.abs(diff - avg)) <= 1  # "Timestamps should occur at regular intervals"
        assert np.all(np.abs(diff - avg) < 1e-3)  # 2021.0.2's tighter form
        if np.max(diff) > 50.0:
            said.append("interval > 50 ms")
        if np.min(timestamps) > avg:
            said.append(f"begin at {np.min(timestamps)}")
        if np.max(timestamps) < 1000 * length - avg or np.max(timestamps) < 1000 * length - 50:
            said.append(f"end at {np.max(timestamps)} of {1000 * length}")
        assert np.max(timestamps) <= 1000 * length  # "Your timestamps end at ..."
    # check_scene_embeddings: 2021.0.6 4 clips of 2.74 s, 2021.0.2 8 of 3.74 s
    for num_audio, length in ((4, 2.74), (8, 3.74)):
        audio = torch.rand((num_audio, int(length * model.sample_rate))) * 2 - 1.0
        embeddings = module.get_scene_embeddings(audio, model)
        assert embeddings.dtype == torch.float32
        assert embeddings.ndim == 2 and embeddings.shape == (num_audio, model.scene_embedding_size)
    return said


def test_hear_validator_checks(model_file, model):
    import synpat.hear as module

    assert set(_validator_checks(module, model, 160)) == {"interval > 50 ms", "end at 3927.5 of 4000.0"}
    fine = load_model(str(model_file), hop_ms=40)
    assert _validator_checks(module, fine, 40) == []  # hop 40 ms: not even a warning

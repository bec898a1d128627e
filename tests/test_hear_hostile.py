"""`synpat.hear` attacked as a hostile user and as HEAR's tools would: arrays of any byte order or
width, tensors with grad or sparse, too loud audio, numpy hop values, devices without the model,
a model cast to half, model JSONs that disagree with their weights; batching and window edges."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest
import torch
from audio_fixtures import make_image_encoder
from synpat.audio import hear as hear_impl
from synpat.audio.transfer import transfer_file
from synpat.core.errors import UserError
from synpat.hear import get_scene_embeddings, get_timestamp_embeddings, load_model

RATE = 16000


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    return make_image_encoder(tmp_path_factory.mktemp("image") / "image.safetensors")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, image_file):
    out = tmp_path_factory.mktemp("hostile") / "audio.safetensors"
    transfer_file(image_file, out, (64, 128))
    return out


@pytest.fixture(scope="module")
def model(model_file):
    return load_model(str(model_file))


@pytest.fixture(scope="module")
def audio():
    torch.manual_seed(0)
    return (torch.rand(2, RATE) - 0.5) * 0.5


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(hear_impl, "_warned", set())


def test_numpy_arrays_of_any_byte_order_width_or_writability(model, audio):
    """Big-endian arrays (e.g. from a .au/.aiff reader), long double and read-only arrays embed like
    native float32; before, torch.from_numpy raised a traceback or warned."""
    want = get_scene_embeddings(audio, model)
    samples = audio.double().numpy()
    readonly = np.frombuffer(audio.numpy().tobytes(), np.float32).reshape(2, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for array in (samples.astype(">f4"), samples.astype(">f8"), samples.astype(np.longdouble), readonly):
            torch.testing.assert_close(get_scene_embeddings(array, model), want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(
            get_scene_embeddings(np.round(samples * 32768).astype(">i2"), model), want, rtol=1e-3, atol=1e-3
        )


def test_tensors_with_grad_sparse_or_strided(model, audio):
    want_emb, want_ts = get_timestamp_embeddings(audio, model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "requires_grad ... to a scalar" warning
        for given in (
            audio.clone().requires_grad_(),
            audio.to_sparse(),
            torch.stack([audio, -audio], 2).reshape(2, -1)[:, ::2],
        ):
            emb, ts = get_timestamp_embeddings(given, model)
            assert torch.equal(emb, want_emb) and torch.equal(ts, want_ts) and not emb.requires_grad


def test_bad_arrays_get_one_line(model, audio):
    with pytest.raises(UserError) as err:
        get_scene_embeddings([[0.0] * 500, [0.0] * 600], model)
    assert str(err.value).startswith("audio: not an (n, samples) array (setting an array element with a sequence.")
    packed = getattr(torch, "float4_e2m1fn_x2", None)  # two 4-bit floats per element
    if packed is not None:
        with pytest.raises(UserError) as err:
            get_scene_embeddings(torch.zeros(2, RATE, dtype=packed), model)
        assert str(err.value) == (
            "audio: dtype float4_e2m1fn_x2 is not audio; expected float samples in [-1, 1] or integer PCM"
        )
    with pytest.raises(UserError) as err:
        get_scene_embeddings(audio[:1].T, model)  # one clip passed as (samples, 1)
    assert str(err.value) == (
        "audio: clips of 1 samples (0.0625 ms) are shorter than one 25 ms fbank window (400 "
        "samples at 16000 Hz); nothing to embed; is it (samples, n)? pass audio.T"
    )


def test_float_too_loud_for_the_spectrogram_is_refused(model, audio):
    """Peaks above ~3e16 overflow the float32 fbank and gave NaN embeddings with only the 'loud' warning;
    float64 beyond float32's range was called 'NaN or Inf'."""
    line = (
        r"audio: float samples peak at [0-9.]+e\+{}, above 1e\+15, where the float32 spectrogram overflows; "
        r"scale them to \[-1, 1\] \(divide by the PCM's full scale\)"
    )
    for given, exponent in ((audio * 4e19, 19), (audio.double() * 4e39, 39)):
        with pytest.raises(UserError) as err:
            get_timestamp_embeddings(given, model)
        assert re.fullmatch(line.format(exponent - 1), str(err.value)), str(err.value)
    nyquist = torch.where(torch.arange(RATE) % 2 == 0, 1.0, -1.0)[None]  # the loudest spectrum a peak can give
    with pytest.warns(UserWarning, match="far outside"):
        for given in (nyquist * 1e15, audio / audio.abs().max() * 1e15):
            emb, _ = get_timestamp_embeddings(given, model)
            assert torch.isfinite(emb).all() and torch.isfinite(get_scene_embeddings(given, model)).all()


def test_hop_ms_as_numpy_numbers_and_not_finite(model_file, tmp_path):
    for hop in (np.int64(40), np.float32(40), np.float64(40.0)):
        assert load_model(str(model_file), hop_ms=hop).hop_frames == 4
    for hop in (float("nan"), float("inf"), np.bool_(True)):
        with pytest.raises(UserError, match=rf"^hop_ms {hop!r}: expected a hop in ms that divides the 160 ms"):
            load_model(str(model_file), hop_ms=hop)
    copy = tmp_path / "nan.safetensors"
    shutil.copy(model_file, copy)
    meta = json.loads(model_file.with_suffix(".json").read_text())
    copy.with_suffix(".json").write_text(json.dumps({**meta, "hear_hop_ms": float("nan")}))  # json writes NaN
    with pytest.raises(UserError, match=r"nan\.json: hear_hop_ms nan: expected a hop in ms"):
        load_model(str(copy))


def test_devices_that_cannot_hold_the_model(model_file):
    with pytest.raises(UserError) as err:
        load_model(str(model_file), device="meta")
    assert str(err.value) == "device meta: it holds no weights; load the model on the cpu or a cuda device"
    if not torch.backends.mps.is_available():
        with pytest.raises(UserError, match=r"^device mps: cannot hold the model \("):
            load_model(str(model_file), device="mps")


def test_model_cast_to_another_dtype(model_file, model, audio):
    """A user's model.half() / .to(bfloat16) / .double(): the encoder runs in that dtype, results float32."""
    want_scene = get_scene_embeddings(audio, model)
    want_emb, want_ts = get_timestamp_embeddings(audio, model)
    for dtype, tol in ((torch.float16, 2e-2), (torch.bfloat16, 1e-1), (torch.float64, 1e-5)):
        cast = load_model(str(model_file)).to(dtype)
        scene = get_scene_embeddings(audio, cast)
        emb, ts = get_timestamp_embeddings(audio, cast)
        assert scene.dtype == emb.dtype == ts.dtype == torch.float32 and torch.equal(ts, want_ts)
        torch.testing.assert_close(scene, want_scene, rtol=tol, atol=tol)
        torch.testing.assert_close(emb, want_emb, rtol=tol, atol=tol)


def _with_json(model_file, tmp_path, name, **changes) -> str:
    meta = json.loads(model_file.with_suffix(".json").read_text())
    arch = {**meta["arch"], **changes.pop("arch", {})}
    copy = tmp_path / f"{name}.safetensors"
    shutil.copy(model_file, copy)
    copy.with_suffix(".json").write_text(json.dumps({**meta, "arch": arch, **changes}))
    return str(copy)


def test_model_json_that_disagrees_with_its_weights(model_file, tmp_path):
    """A JSON naming fewer blocks or no qkv bias loaded silently (the extra tensors dropped); malformed
    fields gave tracebacks or NaN embeddings (norm_std 0)."""
    arch_line = (
        "expected an object of positive integers embed_dim, depth, num_heads (dividing embed_dim), "
        "patch_size (or [rows, cols]), a positive mlp_ratio, a true/false qkv_bias"
    )
    shape_line = "expected [mel_bins, frames], whole numbers of at least one 16x16 patch"
    norm_line = "expected finite numbers, norm_std > 0"
    cases = {
        "depth1": (
            {"arch": {"depth": 1}},
            "its JSON says depth 1, its weights have 2; the JSON beside the weights must describe them",
        ),
        "nobias": (
            {"arch": {"qkv_bias": False}},
            "2 tensors the model of {json} has no place for, e.g. "
            "['blocks.0.attn.qkv.bias', 'blocks.1.attn.qkv.bias']: does its arch match the weights?",
        ),
        "heads5": ({"arch": {"num_heads": 5}}, arch_line),
        "dimstr": ({"arch": {"embed_dim": "96"}}, arch_line),
        "nodepth": ({"arch": {"depth": None}}, arch_line),
        "nopatch": ({"arch": {"patch_size": None}}, arch_line),
        "patch3": ({"arch": {"patch_size": [16, 16, 1]}}, arch_line),
        "patchzero": ({"arch": {"patch_size": [16, 0]}}, arch_line),
        "shapestr": ({"input_shape": ["64", "128"]}, shape_line),
        "shape3": ({"input_shape": [64, 128, 1]}, shape_line),
        "shapeint": ({"input_shape": 64}, shape_line),
        "shapefloat": ({"input_shape": [64.0, 128.0]}, shape_line),
        "shapesmall": ({"input_shape": [64, 8]}, shape_line),
        "std0": ({"norm_std": 0}, norm_line),
        "stdstr": ({"norm_std": "4"}, norm_line),
        "meannull": ({"norm_mean": None}, norm_line),
    }
    for name, (changes, line) in cases.items():
        path = _with_json(model_file, tmp_path, name, **changes)
        json_path = str(tmp_path / f"{name}.json")
        with pytest.raises(UserError) as err:
            load_model(path)
        message = str(err.value)
        assert "\n" not in message and message.endswith(line.format(json=json_path)), (name, message)
        assert message.startswith(path + ": " if line.startswith(("its ", "2 ")) else json_path + ": ")
    arch_json = json.loads((tmp_path / "nodepth.json").read_text())["arch"]
    with pytest.raises(UserError, match=r"nodepth\.json: arch \{.*'depth': None"):
        load_model(str(tmp_path / "nodepth.safetensors"))
    assert arch_json["depth"] is None


def test_wrong_model_arguments_get_one_line(model_file, model, audio):
    """A path, None or the audio in the model's place, and the JSON instead of the weights."""
    for embed in (get_scene_embeddings, get_timestamp_embeddings):
        for given, kind in ((str(model_file), "str"), (None, "NoneType"), (audio, "Tensor")):
            with pytest.raises(UserError) as err:
                embed(audio if kind != "Tensor" else model, given)
            assert str(err.value) == (
                f"model: got {kind}, expected what synpat.hear.load_model(FILE) returns "
                "(get_*_embeddings(audio, model))"
            )
    for given in (123, str(model_file).encode(), [str(model_file)]):
        with pytest.raises(UserError) as err:
            load_model(given)
        assert str(err.value) == f"load_model: model_file_path {given!r}: expected the path of a .safetensors file"
    json_path = model_file.with_suffix(".json")
    with pytest.raises(UserError) as err:
        load_model(str(json_path))
    assert str(err.value) == f"{json_path}: the model's description; pass its weights, the .safetensors beside it"


def test_image_encoder_is_named_with_what_to_do(image_file):
    with pytest.raises(UserError) as err:
        load_model(str(image_file))
    assert str(err.value) == (
        f"{image_file}: an image encoder (its JSON names img_size, no input_shape); make an "
        "audio encoder of it first: synpat-transfer FILE --out audio.safetensors"
    )


def test_no_clip_leaks_into_another_at_window_edges(model):
    """Neighbours in a batch (loud, quiet, silent) do not change a clip's embeddings by one bit (same batch
    size: same kernels), and alone it gets them to float rounding (BLAS differs with the batch size), at
    lengths one sample around a column's span and the model's 8-column window, and over two windows (61 s)."""
    span, hop = 2800, 2560
    lengths = (
        400,
        401,
        span - 1,
        span,
        span + 1,
        1400 + 7 * hop - 1,
        1400 + 7 * hop,
        1400 + 7 * hop + 1,
        1400 + 8 * hop + 1400 + 1,
        61 * RATE + 1,
    )
    torch.manual_seed(5)
    for samples in lengths:
        clip = (torch.rand(samples) - 0.5) * 0.5
        loud = torch.stack([clip, (torch.rand(samples) - 0.5) * 1.9, torch.zeros(samples)])
        quiet = torch.stack([clip, torch.zeros(samples), (torch.rand(samples) - 0.5) * 1e-3])
        emb, ts = get_timestamp_embeddings(loud, model)
        other, other_ts = get_timestamp_embeddings(quiet, model)
        assert torch.equal(emb[0], other[0]) and torch.equal(ts, other_ts), samples
        scene = get_scene_embeddings(loud, model)
        assert torch.equal(scene[0], get_scene_embeddings(quiet, model)[0]), samples
        assert 0 <= ts.min() and ts.max() <= 1000 * samples / RATE, samples
        alone, alone_ts = get_timestamp_embeddings(clip[None], model)
        torch.testing.assert_close(alone[0], emb[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(get_scene_embeddings(clip[None], model)[0], scene[0], rtol=1e-5, atol=1e-5)
        assert torch.equal(alone_ts[0], ts[0])

"""The HEAR API on a transferred and on a fine-tuned model."""
from __future__ import annotations

import json

import pytest
import torch

from audio_fixtures import make_image_encoder
from synpat.core.errors import UserError
from synpat.hear import get_scene_embeddings, get_timestamp_embeddings, load_model
from synpat.audio.transfer import transfer_file


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hear")
    out = folder / "audio.safetensors"
    transfer_file(make_image_encoder(folder / "image.safetensors"), out, (64, 128))
    return load_model(str(out))


def test_attributes(model):
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == 96 and model.timestamp_embedding_size == 96


def test_shapes_and_timestamps(model):
    audio = torch.randn(3, 16000 * 3) * 0.1  # 3 s -> 298 frames -> 19 columns of 16 frames, 3 windows of 128
    emb, ts = get_timestamp_embeddings(audio, model)
    assert emb.shape == (3, 19, 96) and ts.shape == (3, 19)
    steps = ts[0, 1:] - ts[0, :-1]
    torch.testing.assert_close(steps, torch.full_like(steps, 160.0))  # one column = 16 frames x 10 ms
    assert ts[0, 0] == pytest.approx(7.5 * 10 + 12.5)
    assert torch.equal(ts[0], ts[2])
    scene = get_scene_embeddings(audio, model)
    assert scene.shape == (3, 96) and torch.isfinite(scene).all()
    short = get_timestamp_embeddings(torch.randn(1, 200), model)[0]  # shorter than one fbank window
    assert short.shape == (1, 1, 96)


def test_deterministic_and_batch_independent(model):
    torch.manual_seed(0)
    audio = torch.randn(2, 16000) * 0.1
    a, b = get_scene_embeddings(audio, model), get_scene_embeddings(audio, model)
    assert torch.equal(a, b)
    alone = get_scene_embeddings(audio[1:], model)
    torch.testing.assert_close(alone[0], a[1], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(a[0], a[1])  # different clips, different embeddings


def test_finetuned_model_loads(tmp_path, model):
    """A fine-tuned file carries its own normalisation and input shape."""
    from safetensors.torch import save_file

    from synpat.train.vit_arch import ViTArch
    from synpat.audio.vit_audio import build_audio_vit

    vit = build_audio_vit(ViTArch(64, 1, 2), (32, 48), num_classes=3)
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, str(tmp_path / "best.safetensors"))
    (tmp_path / "best.json").write_text(json.dumps({
        "kind": "finetuned", "arch": {"embed_dim": 64, "depth": 1, "num_heads": 2}, "input_shape": [32, 48],
        "norm_mean": -6.0, "norm_std": 3.0, "classes": ["a", "b", "c"]}))
    tuned = load_model(str(tmp_path / "best.safetensors"))
    assert tuned.norm_mean == -6.0 and tuned.scene_embedding_size == 64
    # 0.75 s -> 73 frames -> 2 windows of 48 frames, 3 columns each; columns starting at 0..64 hold audio
    emb, ts = get_timestamp_embeddings(torch.randn(2, 12000), tuned)
    assert emb.shape == (2, 5, 64) and ts.shape == (2, 5)
    with pytest.raises(UserError, match="not found"):
        load_model(str(tmp_path / "missing.safetensors"))


def test_odd_inputs_are_scaled_or_refused_with_one_line(model, tmp_path):
    import numpy as np
    torch.manual_seed(1)
    audio = (torch.rand(2, 8000) - 0.5) * 0.5
    pcm = (audio * 32768).round().clamp(-32768, 32767).numpy().astype(np.int16)
    torch.testing.assert_close(get_scene_embeddings(pcm, model), get_scene_embeddings(torch.as_tensor(pcm / 32768.0), model))
    nan = audio.clone()
    nan[1, 5] = float("nan")
    nan[0, 7] = float("inf")
    for bad, message in ((nan, "audio: 2 of its 16000 samples are NaN or Inf"),
                         (audio[0], "audio: expected a batch (n, samples), got shape (8000,); add the batch "
                                    "dimension: audio[None]"),
                         (audio[None], "audio: expected a batch (n, samples), got shape (1, 2, 8000)")):
        with pytest.raises(UserError) as err:
            get_scene_embeddings(bad, model)
        assert str(err.value) == message
    emb, ts = get_timestamp_embeddings(audio[:0], model)
    one, one_ts = get_timestamp_embeddings(audio[:1], model)
    assert emb.shape == (0, *one.shape[1:]) == (0, 3, 96) and ts.shape == (0, one_ts.shape[1])
    assert get_scene_embeddings(audio[:0], model).shape == (0, 96)
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            load_model(str(tmp_path / "x.safetensors"), device="cuda")


def test_average_precision_counts_tied_scores_as_sklearn_does():
    from synpat.audio.metrics import average_precision
    scores, positives = torch.tensor([0.9, 0.5, 0.5, 0.1]), torch.tensor([False, True, False, True])
    # sklearn.metrics.average_precision_score([0, 1, 0, 1], [0.9, 0.5, 0.5, 0.1]) = 0.5 * 1/3 + 0.5 * 2/4
    assert average_precision(scores, positives) == pytest.approx(1 / 6 + 1 / 4)
    flipped = torch.tensor([0, 2, 1, 3])                            # the tied clips in the other order
    assert average_precision(scores[flipped], positives[flipped]) == pytest.approx(1 / 6 + 1 / 4)
    assert average_precision(torch.tensor([3.0, 2.0, 1.0]), torch.tensor([True, False, True])) == pytest.approx(
        (1 + 2 / 3) / 2)                                            # no ties: the plain mean precision

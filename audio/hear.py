"""The HEAR API (https://hearbenchmark.com) for synpat audio encoders, and the embedder behind it.

    model = load_model("best.safetensors")           # or a synpat-transfer output; JSON beside it
    get_scene_embeddings(audio, model)      -> (n, d)
    get_timestamp_embeddings(audio, model)  -> (n, t, d), (n, t) timestamps in ms
audio: (n, samples) float tensor, mono, 16 kHz. `synpat.hear` is the same API under its short name.

Audio is cut into windows of the model's input length (frames x 10 ms, zero-padded at the
end), each window's fbank is normalised and encoded; the patch tokens of one patch column (all
mel rows at one time step) are averaged into one timestamp embedding, every column of the clip
into the scene embedding; both go through the model's pooled-feature LayerNorm (fc_norm).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from synpat.core.devices import torch_device
from synpat.core.errors import UserError
from synpat.audio.fbank import HOP, SAMPLE_RATE, WINDOW, FbankShape, log_mel
from synpat.train.vit_arch import ViTArch
from synpat.audio.vit_audio import build_audio_vit, load_encoder_state, read_model_file

# Fbank statistics of AudioSet (as published with AST), used for models that carry none (transfer outputs).
AUDIOSET_MEAN, AUDIOSET_STD = -4.27, 4.57


class AudioEmbedder(torch.nn.Module):
    """An audio ViT encoder with the HEAR attributes."""

    sample_rate = SAMPLE_RATE

    def __init__(self, arch: ViTArch, shape: FbankShape, norm: tuple[float, float]):
        super().__init__()
        self.shape, self.norm_mean, self.norm_std = shape, norm[0], norm[1]
        self.patch = arch.patch_size
        self.encoder = build_audio_vit(arch, (shape.mel_bins, shape.frames), num_classes=0)
        self.scene_embedding_size = self.timestamp_embedding_size = arch.embed_dim

    def _columns(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio: (n, samples) 16 kHz -> (column embeddings (n, t, d) before fc_norm, first frame of each (t,)).

        Only columns that start inside the audio are kept (at least one)."""
        n, samples = audio.shape
        frames = self.shape.frames
        real_frames = max(1, 1 + (samples - WINDOW) // HOP)
        windows = math.ceil(real_frames / frames)
        padded = torch.nn.functional.pad(audio.float().cpu(), (0, WINDOW + (windows * frames - 1) * HOP - samples))
        specs = torch.stack([log_mel(wave, self.shape.mel_bins) for wave in padded])  # (n, W*F, mel)
        specs = specs.reshape(n * windows, frames, self.shape.mel_bins).transpose(1, 2)  # (n*W, mel, F)
        x = ((specs - self.norm_mean) / self.norm_std)[:, None].to(next(self.parameters()).device)
        tokens = self.encoder.forward_features(x)[:, self.encoder.num_prefix_tokens:]  # (n*W, rows*cols, d)
        rows, cols = self.encoder.patch_embed.grid_size
        columns = tokens.reshape(n, windows, rows, cols, -1).mean(dim=2).reshape(n, windows * cols, -1)
        starts = (torch.arange(windows)[:, None] * frames + torch.arange(cols)[None] * self.patch).reshape(-1)
        keep = starts < real_frames
        return columns[:, keep], starts[keep]

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio: (n, samples) -> (embeddings (n, t, d), timestamps (n, t) in ms at each column's centre)."""
        self.eval()
        columns, starts = self._columns(audio)
        frame_ms, window_ms = 1000 * HOP / SAMPLE_RATE, 1000 * WINDOW / SAMPLE_RATE
        centre_ms = (starts + (self.patch - 1) / 2) * frame_ms + window_ms / 2
        return self.encoder.fc_norm(columns).cpu(), centre_ms.float()[None].repeat(audio.shape[0], 1)

    @torch.no_grad()
    def scene_embeddings(self, audio: torch.Tensor) -> torch.Tensor:
        """audio: (n, samples) -> (n, d): fc_norm of the mean over the clip's patch columns."""
        self.eval()
        columns, _ = self._columns(audio)
        return self.encoder.fc_norm(columns.mean(dim=1)).cpu()


def load_embedder(path: str | Path, device: str | torch.device = "cpu") -> AudioEmbedder:
    """A transferred or fine-tuned `.safetensors` (+ JSON) as an AudioEmbedder on `device`."""
    device = torch_device(str(device))   # a device this machine lacks is refused before any reading
    state, meta = read_model_file(path)
    shape = FbankShape(*meta["input_shape"])
    norm = (meta.get("norm_mean", AUDIOSET_MEAN), meta.get("norm_std", AUDIOSET_STD))
    arch = ViTArch.from_json(meta["arch"])
    if shape.frames < arch.patch_size or shape.mel_bins < arch.patch_size:
        raise UserError(f"{path}: input shape {shape.mel_bins}x{shape.frames} is smaller than a patch")
    model = AudioEmbedder(arch, shape, norm)
    load_encoder_state(model.encoder, state)
    return model.to(device).eval()


def load_model(model_file_path: str = "", device: str = "cpu") -> AudioEmbedder:
    """Load a `.safetensors` audio encoder with its JSON; has sample_rate, scene_embedding_size, timestamp_embedding_size."""
    return load_embedder(model_file_path, device)


def audio_batch(audio) -> torch.Tensor:
    """(n, samples) tensor or array, float in [-1, 1] or integer PCM (scaled by its type's range)
    -> (n, samples) float32; UserError for another shape or NaN/Inf samples."""
    audio = torch.as_tensor(audio)
    if audio.ndim != 2:
        raise UserError(f"audio: expected a batch (n, samples), got shape {tuple(audio.shape)}"
                        + ("; add the batch dimension: audio[None]" if audio.ndim == 1 else ""))
    if audio.dtype == torch.uint8:     # 8-bit PCM is unsigned, centred on 128
        audio = (audio.float() - 128) / 128
    elif not audio.is_floating_point():
        audio = audio.float() / (torch.iinfo(audio.dtype).max + 1)
    audio = audio.float()
    bad = int((~torch.isfinite(audio)).sum())
    if bad:
        raise UserError(f"audio: {bad} of its {audio.numel()} samples are NaN or Inf")
    return audio


def _embed(fn, audio):
    """Run ``fn`` on a checked batch; a batch of 0 clips gives 0 rows of the right shape."""
    audio = audio_batch(audio)
    if len(audio) == 0:
        out = fn(torch.zeros(1, audio.shape[1]))
        return tuple(o[:0] for o in out) if isinstance(out, tuple) else out[:0]
    return fn(audio)


def get_scene_embeddings(audio: torch.Tensor, model: AudioEmbedder) -> torch.Tensor:
    """(n, samples) 16 kHz audio (float, or integer PCM) -> (n, model.scene_embedding_size)."""
    return _embed(model.scene_embeddings, audio)


def get_timestamp_embeddings(audio: torch.Tensor, model: AudioEmbedder) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, samples) 16 kHz audio (float, or integer PCM) -> (embeddings (n, t, model.timestamp_embedding_size),
    timestamps (n, t) in ms)."""
    return _embed(model.timestamp_embeddings, audio)

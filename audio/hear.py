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
    state, meta = read_model_file(path)
    shape = FbankShape(*meta["input_shape"])
    norm = (meta.get("norm_mean", AUDIOSET_MEAN), meta.get("norm_std", AUDIOSET_STD))
    arch = ViTArch.from_json(meta["arch"])
    if shape.frames < arch.patch_size or shape.mel_bins < arch.patch_size:
        raise UserError(f"{path}: input shape {shape.mel_bins}x{shape.frames} is smaller than a patch")
    model = AudioEmbedder(arch, shape, norm)
    load_encoder_state(model.encoder, state)
    return model.to(torch_device(str(device))).eval()


def load_model(model_file_path: str = "", device: str = "cpu") -> AudioEmbedder:
    """Load a `.safetensors` audio encoder with its JSON; has sample_rate, scene_embedding_size, timestamp_embedding_size."""
    return load_embedder(model_file_path, device)


def get_scene_embeddings(audio: torch.Tensor, model: AudioEmbedder) -> torch.Tensor:
    """(n, samples) 16 kHz float tensor (or array) -> (n, model.scene_embedding_size)."""
    return model.scene_embeddings(torch.as_tensor(audio, dtype=torch.float32))


def get_timestamp_embeddings(audio: torch.Tensor, model: AudioEmbedder) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, samples) 16 kHz float tensor (or array) -> (embeddings (n, t, model.timestamp_embedding_size),
    timestamps (n, t) in ms)."""
    return model.timestamp_embeddings(torch.as_tensor(audio, dtype=torch.float32))

"""HEAR API (https://hearbenchmark.com) for synpat audio encoders.

    model = load_model("best.safetensors")           # or a synpat-transfer output; JSON beside it
    get_scene_embeddings(audio, model)      -> (n, d)
    get_timestamp_embeddings(audio, model)  -> (n, t, d), (n, t) timestamps in ms
audio: (n, samples) float tensor, mono, 16 kHz. The logic is in synpat.train.embeddings.
"""
from __future__ import annotations

import torch

from synpat.train.embeddings import AudioEmbedder, load_embedder

__all__ = ["load_model", "get_scene_embeddings", "get_timestamp_embeddings"]


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

"""`synpat.hear`: the HEAR API under the name HEAR's tools expect (`--module synpat.hear`).
The code is in synpat.audio.hear."""

from synpat.audio.hear import get_scene_embeddings, get_timestamp_embeddings, load_model

__all__ = ["load_model", "get_scene_embeddings", "get_timestamp_embeddings"]

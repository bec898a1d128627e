"""HEAR embedding rate: 1 s against 10 s clips with the same model, and the old cost of a 1 s clip
(zero-padded to the model's whole window, as synpat.hear did before short clips were embedded with
their own columns), in one run.

    python benchmarks/bench_hear.py [--model vit_tiny] [--shapes 128x1024,128x128] [--batch 8] [--rounds 3]

A randomly initialised image ViT of `--model`'s size goes through synpat-transfer to each input shape;
rounds alternate the clip lengths and each keeps its best. Prints one JSON line per result:
clips/s of scene embeddings for 1 s, 10 s and 1 s padded to the window, and the 1 s / 10 s ratio
(target >= 4).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import emit
from safetensors.torch import save_file
from synpat.audio.transfer import parse_shape, transfer_file
from synpat.hear import get_scene_embeddings, load_model
from synpat.train.vit_arch import VIT_SIZES

RATE = 16000


def image_encoder(size: str, folder: Path) -> Path:
    """A random 3-channel timm ViT of a named size, saved the way synpat's exporter does (+ JSON)."""
    import json

    from timm.models.vision_transformer import VisionTransformer

    arch = VIT_SIZES[size]
    torch.manual_seed(0)
    vit = VisionTransformer(
        img_size=224,
        patch_size=arch.patch_size,
        num_classes=0,
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
    )
    path = folder / f"{size}.safetensors"
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, str(path))
    path.with_suffix(".json").write_text(json.dumps(arch.to_json()))
    return path


def rate(model, audio: torch.Tensor) -> float:
    """Clips per second of get_scene_embeddings on this batch."""
    start = time.perf_counter()
    get_scene_embeddings(audio, model)
    if audio.is_cuda:
        torch.cuda.synchronize()
    return len(audio) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="vit_tiny", choices=sorted(VIT_SIZES))
    ap.add_argument("--shapes", default="128x1024,128x128", help="input shapes MELxFRAMES to transfer to")
    ap.add_argument("--batch", type=int, default=8, help="clips per call")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    name = f"{device.type}" if device.type != "cuda" else torch.cuda.get_device_name(device)
    torch.manual_seed(1)
    with tempfile.TemporaryDirectory() as tmp:
        source = image_encoder(args.model, Path(tmp))
        for text in args.shapes.split(","):
            shape = parse_shape(text)
            out = Path(tmp) / f"audio_{shape[0]}x{shape[1]}.safetensors"
            transfer_file(source, out, shape)
            model = load_model(str(out), device=str(device))
            window = model.shape.num_samples
            clips = {
                "1s": torch.rand(args.batch, RATE, device=device) * 2 - 1,
                "10s": torch.rand(args.batch, 10 * RATE, device=device) * 2 - 1,
            }
            clips["1s_padded_to_window"] = torch.nn.functional.pad(clips["1s"], (0, max(0, window - RATE)))
            rate(model, clips["1s"])  # warm-up
            best = {key: 0.0 for key in clips}
            for _ in range(args.rounds):
                for key, audio in clips.items():
                    best[key] = max(best[key], rate(model, audio))
            extra = {"model": args.model, "input_shape": text, "batch": args.batch}
            for key, value in best.items():
                emit("hear", f"scene_clips_per_s_{key}", value, "clips/s", name, **extra)
            emit("hear", "ratio_1s_over_10s", best["1s"] / best["10s"], "x", name, target=4, **extra)
            emit("hear", "ratio_1s_over_1s_padded", best["1s"] / best["1s_padded_to_window"], "x", name, **extra)


if __name__ == "__main__":
    main()

"""MAE pre-training on synthetic-pattern shards or a live PatternStream, under DeepSpeed.

    python train/pretrain.py --config train/configs/demo_cpu.json --data demo/shards --out runs/demo
    deepspeed --num_gpus 8 train/pretrain.py --data /shared/shards --deepspeed zero2_bf16 --out runs/b16
    torchrun --nproc-per-node 2 train/pretrain.py --stream shaders/ --steps 1000 ...

One process per rank; without a launcher it is rank 0 of 1 (gloo on CPU, nccl on GPU). Writes to
--out: checkpoints/ (+ latest.json), log.jsonl, tb/, recon/step_XXXXXXXX.png and at the end
encoder.safetensors + encoder.json (timm ViT names). `--resume auto` continues from the latest
checkpoint: weights, optimiser, schedule, step, RNG state and data position (with --loader torch
or a stream the batches are then those an uninterrupted run sees).
"""
from __future__ import annotations

import io
import json
import random
import shutil
import sys
import time
from dataclasses import asdict
from itertools import islice
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.core.progress import Progress, format_seconds
from synpat.core.settings import run_cli
from synpat.train.deepspeed_setup import (build_engine, fill_deepspeed_config, init_distributed, load_deepspeed_config,
                                 precision)
from synpat.train.export import export_encoder, full_fp32_state
from synpat.train.loaders import LoaderConfig, build_loader
from synpat.train.mae import MAE, build_mae
from synpat.train.pretrain_config import PretrainConfig, deepspeed_config_path, parse_config
from synpat.train.recon import save_recon

PROG = "pretrain"


def mask_noise(seed: int, micro_step: int, rank: int, batch: int, world_size: int, num_patches: int,
               device: torch.device) -> torch.Tensor:
    """-> (batch, L) uniform noise for this rank's slice of the global micro-batch at `micro_step`.
    A pure function of (seed, micro_step, global sample position): resuming needs no mask RNG state,
    and N ranks draw the masks one process drawing the whole global batch would."""
    gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + micro_step)
    noise = torch.rand(batch * world_size, num_patches, generator=gen, device=device)
    return noise[rank * batch:(rank + 1) * batch]


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


class Checkpoints:
    """OUT/checkpoints/step_XXXXXXXX/ (DeepSpeed's files + rng_rankN.pt) and latest.json, which names
    a checkpoint only after every rank has finished writing it."""

    def __init__(self, out: Path, rank: int, keep: int):
        self.dir, self.rank, self.keep = out / "checkpoints", rank, keep

    def save(self, engine, position: dict) -> None:
        tag = f"step_{engine.global_steps:08d}"
        engine.save_checkpoint(str(self.dir), tag=tag, client_state={"position": position}, save_latest=False)
        buf = _torch_bytes(rng_state())
        write_atomic(self.dir / tag / f"rng_rank{self.rank}.pt", buf)
        dist.barrier()
        if self.rank == 0:
            write_json_atomic(self.dir / "latest.json", {"tag": tag, "step": engine.global_steps})
            tags = sorted(p.name for p in self.dir.glob("step_*") if p.is_dir())
            for old in tags[:-self.keep]:
                shutil.rmtree(self.dir / old, ignore_errors=True)
        dist.barrier()

    def find(self, resume: str) -> Path | None:
        """'auto' -> the latest complete checkpoint or None; a folder -> itself."""
        if resume != "auto":
            return Path(resume)
        latest = self.dir / "latest.json"
        return self.dir / json.loads(latest.read_text())["tag"] if latest.is_file() else None

    def load(self, engine, folder: Path, world_size: int) -> dict:
        """Restore weights, optimiser, schedule, step and this rank's RNG; -> the data position."""
        rng = folder / f"rng_rank{self.rank}.pt"
        if not rng.is_file():
            raise UserError(f"--resume {folder}: no {rng.name} (not a pretrain checkpoint, or written by other ranks)")
        path, client = engine.load_checkpoint(str(folder.parent), tag=folder.name)
        if path is None:
            raise UserError(f"--resume {folder}: DeepSpeed found no checkpoint there")
        position = client["position"]
        if position["world_size"] != world_size:
            raise UserError(f"--resume {folder}: written by {position['world_size']} ranks, this run has {world_size}")
        set_rng_state(torch.load(rng, weights_only=False))
        return position


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class Logs:
    """Rank 0's JSONL log (one complete line per write; a fresh run starts it anew, a resumed one appends)
    and TensorBoard scalars and pictures."""

    def __init__(self, out: Path, append: bool):
        from torch.utils.tensorboard import SummaryWriter
        self.jsonl = open(out / "log.jsonl", "a" if append else "w")
        self.tb = SummaryWriter(str(out / "tb"))

    def write(self, record: dict) -> None:
        self.jsonl.write(json.dumps(record) + "\n")
        self.jsonl.flush()
        for key in ("loss", "lr", "img_per_s"):
            self.tb.add_scalar(f"pretrain/{key}", record[key], record["step"])

    def picture(self, path: Path, step: int) -> None:
        from PIL import Image
        self.tb.add_image("pretrain/reconstruction", np.asarray(Image.open(path)), step, dataformats="HWC")

    def close(self) -> None:
        self.jsonl.close()
        self.tb.close()


def loader_config(cfg: PretrainConfig, rank: int, world_size: int, start_step: int) -> LoaderConfig:
    return LoaderConfig(data=cfg.data or None, stream=cfg.stream.split(",") if cfg.stream else None,
                        batch_size=cfg.batch_size, image_size=cfg.img_size, loader=cfg.loader, seed=cfg.seed,
                        rank=rank, world_size=world_size, num_workers=cfg.num_workers, start_step=start_step)


def epoch_batches(loader, device) -> int:
    """Batches per epoch that every rank has: the fewest over the ranks (their shard shares differ),
    so all ranks take the same number of steps and meet in every collective."""
    n = torch.tensor(len(loader), device=device)
    dist.all_reduce(n, op=dist.ReduceOp.MIN)
    return int(n)


def total_steps(cfg: PretrainConfig, batches_per_epoch: int | None) -> int:
    """Optimiser steps of the run: cfg.steps, or epochs x batches per rank per epoch / accumulation."""
    if cfg.steps:
        return cfg.steps
    per_epoch = batches_per_epoch // cfg.accum_steps
    if per_epoch == 0:
        raise UserError(f"--data holds fewer than batch_size x accum_steps = {cfg.batch_size * cfg.accum_steps} "
                        "images per rank: use more shards or a smaller batch")
    return cfg.epochs * per_epoch


def pictures(engine, model: MAE, imgs: torch.Tensor, noise: torch.Tensor, path: Path, rank: int) -> None:
    """Reconstruct a fixed batch (every rank: ZeRO-3 gathers weights collectively); rank 0 saves it."""
    with torch.no_grad():
        _, pred, mask = engine(imgs, noise)
    if rank == 0:
        save_recon(path, model, imgs, pred, mask)


def train(argv) -> None:
    cfg = parse_config(argv, PROG)
    ds_base = load_deepspeed_config(deepspeed_config_path(cfg.deepspeed))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world, device = init_distributed()
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    checkpoints = Checkpoints(out, rank, cfg.keep_checkpoints)
    resume_from = checkpoints.find(cfg.resume) if cfg.resume else None

    torch.manual_seed(cfg.seed)   # the same initial weights on every rank
    random.seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    model = build_mae(cfg.model, img_size=cfg.img_size, mask_ratio=cfg.mask_ratio, norm_pix_loss=cfg.norm_pix_loss)
    loader = None if cfg.stream else build_loader(loader_config(cfg, rank, world, 0))
    per_epoch = None if loader is None else epoch_batches(loader, device)
    steps = total_steps(cfg, per_epoch)
    try:   # only now that the data is found: a run refused for bad input leaves no output folder
        (out / "recon").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the output folder ({err.strerror})") from None
    ds_config = fill_deepspeed_config(ds_base, cfg.batch_size, cfg.accum_steps, world, cfg.lr(world),
                                      (cfg.beta1, cfg.beta2), cfg.weight_decay)
    schedule = {"peak_lr": cfg.lr(world), "warmup_steps": int(cfg.warmup * steps), "total_steps": steps,
                "min_lr": cfg.min_lr}
    engine = build_engine(model, ds_config, cfg.weight_decay, schedule)
    if cfg.compile:
        engine.compile()
    dtype = precision(ds_config)

    position = {"epoch": 0, "batch": 0, "micro": 0, "world_size": world}
    if resume_from is not None:
        position = checkpoints.load(engine, resume_from, world)
    batch_in_epoch = position["batch"]
    if loader is None:   # a stream starts at its resume step; shards skip the epoch's consumed batches
        loader = build_loader(loader_config(cfg, rank, world, position["micro"]))
        batch_in_epoch = 0

    logs = Logs(out, append=resume_from is not None) if rank == 0 else None
    if rank == 0:
        write_json_atomic(out / "config.json", {**asdict(cfg), "world_size": world, "deepspeed_config": ds_config})
    global_batch = cfg.global_batch(world)
    start_step = engine.global_steps
    progress = Progress((steps - start_step) * global_batch, PROG, unit="img") if rank == 0 else None
    first_loss = last_loss = None
    fixed = None   # (imgs, noise) shown in every reconstruction picture
    window_loss, window_n, window_t = torch.zeros((), device=device), 0, time.perf_counter()
    step, epoch, micro = engine.global_steps, position["epoch"], position["micro"]

    while step < steps:
        loader.set_epoch(epoch)
        for images, _ in islice(iter(loader), batch_in_epoch, per_epoch):
            images = images.to(device, dtype, non_blocking=True)
            noise = mask_noise(cfg.seed, micro, rank, cfg.batch_size, world, model.num_patches, device)
            if fixed is None:
                fixed = (images[:cfg.recon_images].clone(), noise[:cfg.recon_images].clone())
            loss, _, _ = engine(images, noise)
            engine.backward(loss)
            engine.step()
            micro += 1
            batch_in_epoch += 1
            window_loss += loss.detach().float()
            window_n += 1
            if engine.global_steps == step:   # inside a gradient accumulation
                continue
            step = engine.global_steps
            done = step >= steps
            if step % cfg.log_every == 0 or done:
                dist.all_reduce(window_loss)
                mean_loss = window_loss.item() / (window_n * world)
                if not np.isfinite(mean_loss):
                    raise UserError(f"step {step}: the loss is {mean_loss}; lower blr or use fp32/bf16")
                first_loss = mean_loss if first_loss is None else first_loss
                last_loss = mean_loss
                now = time.perf_counter()
                rate = window_n * cfg.batch_size * world / (now - window_t)
                if logs:
                    logs.write({"step": step, "epoch": epoch, "images": step * global_batch, "loss": mean_loss,
                                "lr": engine.get_lr()[0], "img_per_s": rate, "time": time.time()})
                    progress.label = f"{PROG} step {step}/{steps} loss {mean_loss:.4f}"
                window_loss.zero_()
                window_n, window_t = 0, now
            if progress:   # after the log, so the line shows this step's loss
                progress.update(global_batch)
            if (cfg.recon_every and step % cfg.recon_every == 0) or done:
                path = out / "recon" / f"step_{step:08d}.png"
                pictures(engine, model, *fixed, path, rank)
                if logs:
                    logs.picture(path, step)
            if (cfg.save_every and step % cfg.save_every == 0) or done:
                checkpoints.save(engine, {"epoch": epoch, "batch": batch_in_epoch, "micro": micro,
                                          "world_size": world})
            if done:
                break
        else:   # the epoch ran out
            epoch, batch_in_epoch = epoch + 1, 0
            continue
        break

    state = full_fp32_state(engine)
    if rank == 0:
        progress.close()
        weights = export_encoder(model, state, out, mae_model=cfg.model, steps=step, images=step * global_batch)
        logs.close()
        seconds = progress.elapsed
        if first_loss is None:
            print(f"{PROG}: {cfg.model} already complete ({step} steps); encoder {weights}", flush=True)
        else:
            print(f"{PROG}: {cfg.model} {step} steps ({step * global_batch} images, {world} rank(s)) "
                  f"in {format_seconds(seconds)}, {progress.done / max(seconds, 1e-9):.1f} img/s, "
                  f"loss {first_loss:.4f} -> {last_loss:.4f}; encoder {weights}", flush=True)
    dist.barrier()
    dist.destroy_process_group()


def main(argv=None) -> int:
    return run_cli(PROG, train, argv)


if __name__ == "__main__":
    sys.exit(main())

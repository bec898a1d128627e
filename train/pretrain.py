"""MAE pre-training on synthetic-pattern shards or a live PatternStream: the plain torch engine
(DDP + torch.compile + bf16 autocast + fused AdamW, the default) or DeepSpeed (ZeRO, offload).

    python train/pretrain.py --config train/configs/demo_cpu.json --data demo/shards --out runs/demo
    torchrun --nproc-per-node 8 train/pretrain.py --data /shared/shards --out runs/b16     # bf16 on GPUs
    deepspeed --num_gpus 8 train/pretrain.py --data /shared/shards --deepspeed zero2_bf16 --out runs/b16
    torchrun --nproc-per-node 2 train/pretrain.py --stream shaders/ --steps 1000 ...

One process per rank; without a launcher it is rank 0 of 1 (gloo on CPU, nccl on GPU). Writes to
--out: checkpoints/ (+ latest.json), log.jsonl, tb/, recon/step_XXXXXXXX.png and at the end
encoder.safetensors + encoder.json (timm ViT names). `--resume auto` continues from the latest
checkpoint: weights, optimiser, schedule, step, RNG state and data position (with --loader torch
or a stream the batches are then those an uninterrupted run sees).
"""

from __future__ import annotations

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
from synpat.train.checkpoints import Checkpoints, TrainState
from synpat.train.deepspeed_configs import config_precision, deepspeed_config, generated_config
from synpat.train.deepspeed_setup import build_engine, fill_deepspeed_config, init_distributed
from synpat.train.export import export_encoder, full_fp32_state, spectrogram_meta
from synpat.train.input_kinds import NORM_FILE
from synpat.train.loaders import LoaderConfig
from synpat.train.mae import MAE, build_mae
from synpat.train.pretrain_config import PretrainConfig, parse_config, resume_settings
from synpat.train.pretrain_inputs import InputPlan, build_input_loader, model_input, plan_input
from synpat.train.recon import save_recon
from synpat.train.torch_engine import TorchEngine

PROG = "pretrain"
UNITS = {"images": "img", "clips": "clips", "samples": "samples"}  # summary word -> progress rate unit


def mask_noise(
    seed: int,
    micro_step: int,
    rank: int,
    batch: int,
    world_size: int,
    grid: tuple[int, int],
    device: torch.device,
    block: int = 1,
) -> torch.Tensor:
    """-> (batch, L) uniform noise for this rank's slice of the global micro-batch at `micro_step`, L = rows x
    cols of the patch `grid` (the MAE keeps the patches of least noise). With `block` > 1 the patches of
    `block` consecutive columns of a row share one value (ties broken left to right), so they are masked
    together. A pure function of (seed, micro_step, global sample position): resuming needs no mask RNG state,
    and N ranks draw the masks one process drawing the whole global batch would."""
    gen = torch.Generator(device=device).manual_seed(seed * 1_000_003 + micro_step)
    rows, cols = grid
    if block == 1:
        noise = torch.rand(batch * world_size, rows * cols, generator=gen, device=device)
    else:
        runs = torch.rand(batch * world_size, rows * -(-cols // block), generator=gen, device=device)
        order = runs.argsort(dim=1).argsort(dim=1).view(len(runs), rows, -1)  # each run's place among its sample's
        within = torch.arange(cols, device=device) % block
        noise = (order.repeat_interleave(block, dim=2)[..., :cols] * block + within).flatten(1).float()
    return noise[rank * batch : (rank + 1) * batch]


class Logs:
    """Rank 0's JSONL log (one complete line per write; a fresh run starts it anew, a resumed one appends)
    and TensorBoard scalars and pictures."""

    def __init__(self, out: Path, resumed_step: int | None):
        """``resumed_step``: the checkpoint's step a resumed run continues from (None: a fresh run). The
        records after it, written before the run was stopped, are dropped: the resumed run writes them again."""
        from torch.utils.tensorboard import SummaryWriter

        if resumed_step is not None:
            keep_log_until(out / "log.jsonl", resumed_step)
        self.jsonl = open(out / "log.jsonl", "a" if resumed_step is not None else "w")
        self.tb = SummaryWriter(str(out / "tb"), purge_step=None if resumed_step is None else resumed_step + 1)

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


def keep_log_until(path: Path, step: int) -> None:
    """Drop the records of the JSONL log ``path`` after ``step`` (and a line cut short by a kill)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines(keepends=True):
        try:
            if line.endswith("\n") and json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            pass
    write_atomic(path, "".join(kept).encode())


def loader_config(cfg: PretrainConfig, rank: int, world_size: int, start_step: int) -> LoaderConfig:
    return LoaderConfig(
        data=cfg.data or None,
        source=cfg.stream_source() if cfg.stream else None,
        batch_size=cfg.batch_size,
        image_size=cfg.img_size,
        loader=cfg.loader,
        seed=cfg.seed,
        rank=rank,
        world_size=world_size,
        num_workers=cfg.num_workers,
        start_step=start_step,
    )


def epoch_batches(loader, device, needed: bool) -> int | None:
    """Batches per epoch that every rank has: the fewest over the ranks (their shard shares differ),
    so all ranks take the same number of steps and meet in every collective. Shards of unknown
    length (no .idx: pipe:/http:// sources) are counted once when ``needed``; else None."""
    if needed and hasattr(loader, "count_samples"):
        loader.count_samples()
    try:
        mine = len(loader)
    except TypeError:  # not known
        mine = -1
    n = torch.tensor(mine, device=device)
    dist.all_reduce(n, op=dist.ReduceOp.MIN)
    return None if n < 0 else int(n)


def total_steps(cfg: PretrainConfig, batches_per_epoch: int | None) -> int:
    """Optimiser steps of the run: cfg.steps, or epochs x batches per rank per epoch / accumulation."""
    if batches_per_epoch is not None and batches_per_epoch // cfg.accum_steps == 0:
        raise UserError(
            f"--data holds fewer than batch_size x accum_steps = {cfg.batch_size * cfg.accum_steps} "
            "samples per rank: use more shards or a smaller batch"
        )
    return cfg.steps or cfg.epochs * (batches_per_epoch // cfg.accum_steps)


def pictures(engine, model: MAE, imgs: torch.Tensor, noise: torch.Tensor, path: Path, rank: int) -> None:
    """Reconstruct a fixed batch (every rank: ZeRO-3 gathers weights collectively); rank 0 saves it.
    The engine's forward runs eagerly: compiled, a no-grad call at another batch size would make
    Dynamo compile it again (tens of seconds on a GPU, in every process of a run)."""
    with torch.no_grad(), torch.compiler.set_stance("force_eager"):
        _, pred, mask = engine(imgs, noise)
    if rank == 0:
        save_recon(path, model, imgs, pred, mask)


class Trainer:
    """One rank's pre-training: the engine, its logs and pictures; `train_one_epoch` runs the steps."""

    def __init__(
        self,
        cfg: PretrainConfig,
        engine,
        model: MAE,
        out: Path,
        rank: int,
        world: int,
        device,
        steps: int,
        checkpoints: Checkpoints,
        logs: Logs | None,
        to_input=None,
        unit: str = "images",
    ):
        self.cfg, self.engine, self.model, self.out = cfg, engine, model, out
        self.rank, self.world, self.device, self.steps = rank, world, device, steps
        self.checkpoints, self.logs = checkpoints, logs
        self.dtype = next(engine.module.parameters()).dtype
        # loader batch -> model input (images as they come; waves -> spectrograms: train/input_kinds.py)
        self.to_input = to_input or (lambda images: images.to(self.device, self.dtype, non_blocking=True))
        self.global_batch = cfg.global_batch(world)
        self.unit = unit  # what a sample is called in the progress and summary lines (UNITS)
        self.progress = (
            Progress((steps - engine.global_steps) * self.global_batch, PROG, unit=UNITS[unit]) if rank == 0 else None
        )
        self.first_loss = self.last_loss = None
        self.fixed = None  # (imgs, noise) shown in every reconstruction picture
        self.window_loss, self.window_n, self.window_t = torch.zeros((), device=device), 0, time.perf_counter()
        # Images trained on: a stream's filters drop samples, so a batch may hold fewer than batch_size.
        # This rank's since the last count (a host int: no synchronisation per step), then all ranks' since
        # the last log line; count_images adds them to TrainState.images.
        self.uncounted, self.window_images = 0, 0

    @property
    def done(self) -> bool:
        return self.engine.global_steps >= self.steps

    def train_one_epoch(self, loader, state: TrainState, per_epoch: int | None) -> None:
        """Micro-steps from `state` to the epoch's end (per_epoch batches; a stream has no end) or the
        last step; `state` moves along with every batch."""
        cfg, engine = self.cfg, self.engine
        loader.set_epoch(state.epoch)
        first = 0 if cfg.stream else state.batch  # a stream already starts at state.micro
        for images, _ in islice(iter(loader), first, per_epoch):
            images = self.to_input(images)
            noise = mask_noise(
                cfg.seed,
                state.micro,
                self.rank,
                cfg.batch_size,
                self.world,
                self.model.patch_embed.grid_size,
                self.device,
                cfg.mask_block,
            )[: len(images)]  # a stream's filters drop some
            if self.fixed is None:
                self.fixed = (images[: cfg.recon_images].clone(), noise[: cfg.recon_images].clone())
            self.uncounted += len(images)
            before = engine.global_steps
            loss, _, _ = engine(images, noise)
            engine.backward(loss)
            engine.step()
            state.batch_done(per_epoch)
            self.window_loss += loss.detach().float()
            self.window_n += 1
            if engine.global_steps > before:  # an optimiser step (not inside gradient accumulation)
                self.after_step(engine.global_steps, state)
            if self.done:
                return
        if per_epoch is None and not cfg.stream:  # shards of unknown length: their end ends the epoch
            state.epoch, state.batch = state.epoch + 1, 0

    def after_step(self, step: int, state: TrainState) -> None:
        """Log, picture and checkpoint on their schedules (and all three at the last step); the images
        are counted over the ranks before a log line or a checkpoint."""
        cfg, last = self.cfg, step >= self.steps
        logs = step % cfg.log_every == 0 or last
        saves = (cfg.save_every and step % cfg.save_every == 0) or last
        counted = self.count_images(state) if logs or saves else 0
        if logs:
            self.log(step, state)
        if self.progress and counted:  # after the log, so the line shows this step's loss
            self.progress.update(counted)
        if (cfg.recon_every and step % cfg.recon_every == 0) or last:
            path = self.out / "recon" / f"step_{step:08d}.png"
            pictures(self.engine, self.model, *self.fixed, path, self.rank)
            if self.logs:
                self.logs.picture(path, step)
        if saves:
            self.checkpoints.save(self.engine, state)

    def count_images(self, state: TrainState) -> int:
        """Add the images every rank trained on since the last count to state.images (one collective,
        every rank); -> how many."""
        n = torch.tensor(self.uncounted, dtype=torch.int64, device=self.device)
        dist.all_reduce(n)
        counted = int(n.item())
        state.images += counted
        self.window_images += counted
        self.uncounted = 0
        return counted

    def log(self, step: int, state: TrainState) -> None:
        dist.all_reduce(self.window_loss)
        mean_loss = self.window_loss.item() / (self.window_n * self.world)
        if not np.isfinite(mean_loss):
            raise UserError(f"step {step}: the loss is {mean_loss}; lower blr or use fp32/bf16")
        self.first_loss = mean_loss if self.first_loss is None else self.first_loss
        self.last_loss = mean_loss
        now = time.perf_counter()
        rate = self.window_images / (now - self.window_t)
        if self.logs:
            self.logs.write(
                {
                    "step": step,
                    "epoch": state.epoch,
                    "images": state.images,
                    "loss": mean_loss,
                    "lr": self.engine.get_lr()[0],
                    "img_per_s": rate,
                    "time": time.time(),
                }
            )
            self.progress.label = f"{PROG} step {step}/{self.steps} loss {mean_loss:.4f}"
        self.window_loss.zero_()
        self.window_n, self.window_images, self.window_t = 0, 0, now

    def summary(self, weights: Path, images: int) -> str:
        """The run's one line; ``images``: trained on since the start (TrainState.images)."""
        step = self.engine.global_steps
        model = self.cfg.model + (f" with {self.cfg.patch} patches" if self.cfg.patch else "")
        if self.first_loss is None:
            return f"{PROG}: {model} already complete ({step} steps); encoder {weights}"
        seconds = self.progress.elapsed
        return (
            f"{PROG}: {model} {step} steps ({images} {self.unit}, {self.world} rank(s)) "
            f"in {format_seconds(seconds)}, {self.progress.done / max(seconds, 1e-9):.1f} {UNITS[self.unit]}/s, "
            f"loss {self.first_loss:.4f} -> {self.last_loss:.4f}; encoder {weights}"
        )


def run_precision(cfg: PretrainConfig, ds_config: dict | None, device: torch.device) -> str:
    """fp32 | bf16 | fp16 of this run: the DeepSpeed config's, else --precision on this device."""
    return config_precision(ds_config) if ds_config is not None else cfg.precision_on(device.type)


def run_settings(
    cfg: PretrainConfig, ds_config: dict | None, world: int, device: torch.device, plan: InputPlan
) -> dict:
    """What a checkpoint records and a resumed run must match (the torch engine counts as ZeRO stage 0);
    "config": every other setting that decides what is trained (pretrain_config.resume_settings)."""
    return {
        "model": cfg.model,
        "img_size": cfg.img_size,
        "norm_pix_loss": cfg.norm_pix_loss,
        "zero_stage": (ds_config or {}).get("zero_optimization", {}).get("stage", 0),
        "precision": run_precision(cfg, ds_config, device),
        "world_size": world,
        "engine": cfg.engine_name,
        **plan.settings(),
        "config": resume_settings(cfg),
    }


def engine_config(cfg: PretrainConfig, device: torch.device) -> dict | None:
    """The DeepSpeed engine's config: the --deepspeed one, or ZeRO 0 at --precision; None for the torch
    engine, which takes its precision from the settings."""
    if cfg.engine_name == "torch":
        return None
    return deepspeed_config(cfg.deepspeed) if cfg.deepspeed else generated_config(0, cfg.precision_on(device.type))


def build_any_engine(
    cfg: PretrainConfig, model: MAE, ds_config: dict | None, device: torch.device, world: int, schedule: dict
):
    """The torch engine or DeepSpeed's, compiled when the run asks for it."""
    if ds_config is None:
        engine = TorchEngine(
            model,
            device,
            run_precision(cfg, None, device),
            cfg.lr(world),
            (cfg.beta1, cfg.beta2),
            cfg.weight_decay,
            cfg.accum_steps,
            schedule,
        )
    else:
        engine = build_engine(model, ds_config, cfg.weight_decay, schedule)
    if cfg.compiles_on(device.type):
        engine.compile()
    return engine


RUN_OUTPUTS = (
    "checkpoints",
    "log.jsonl",
    "tb",
    "recon",
    "config.json",
    "run.json",
    "encoder.safetensors",
    "encoder.json",
    NORM_FILE,
)


def check_out(cfg: PretrainConfig, out: Path, rank: int) -> None:
    """Refuse a --out that is a file or holds a run this one would mix with; --overwrite clears it (rank 0)."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    used = [name for name in RUN_OUTPUTS if (out / name).exists()]
    if used and not cfg.resume and not cfg.overwrite:
        raise UserError(
            f"--out {out}: holds a run ({', '.join(used)}); pass --resume auto to continue it "
            "or --overwrite to replace it"
        )
    if cfg.overwrite and rank == 0:
        for name in used:
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    dist.barrier()


def train(argv) -> None:
    cfg = parse_config(argv, PROG)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world, device = init_distributed()
    ds_base = engine_config(cfg, device)
    out = Path(cfg.out)
    check_out(cfg, out, rank)
    fresh = not out.exists()
    try:
        run(cfg, ds_base, out, rank, world, device)
    except BaseException:
        # A fresh run that fails before its first checkpoint leaves nothing behind.
        if fresh and rank == 0 and not (out / "checkpoints" / "latest.json").exists():
            shutil.rmtree(out, ignore_errors=True)
        raise


def run(cfg: PretrainConfig, ds_base: dict | None, out: Path, rank: int, world: int, device) -> None:
    ds_config = (
        None
        if ds_base is None
        else fill_deepspeed_config(
            ds_base, cfg.batch_size, cfg.accum_steps, world, cfg.lr(world), (cfg.beta1, cfg.beta2), cfg.weight_decay
        )
    )
    plan = plan_input(cfg)
    checkpoints = Checkpoints(out, rank, cfg.keep_checkpoints, run_settings(cfg, ds_config, world, device, plan))
    resume_from = checkpoints.find(cfg.resume) if cfg.resume else None
    if resume_from is not None:
        checkpoints.check(resume_from)  # before anything is built or written

    torch.manual_seed(cfg.seed)  # the same initial weights on every rank
    random.seed(cfg.seed + rank)
    np.random.seed(cfg.seed + rank)
    model = build_mae(
        cfg.model,
        patch=cfg.patch_shape(),
        img_size=plan.size,
        in_chans=plan.in_chans,
        mask_ratio=cfg.mask_ratio,
        norm_pix_loss=cfg.norm_pix_loss,
    )
    loader = None if cfg.stream else build_input_loader(plan, cfg, loader_config(cfg, rank, world, 0))
    # Epochs need the batches per epoch (counted once when the shards have no .idx); so do ranks,
    # which must all take the same number of steps. One rank training by steps can read on unknowing.
    per_epoch = None if loader is None else epoch_batches(loader, device, cfg.steps == 0 or world > 1)
    steps = total_steps(cfg, per_epoch)
    schedule = {
        "peak_lr": cfg.lr(world),
        "warmup_steps": int(cfg.warmup * steps),
        "total_steps": steps,
        "min_lr": cfg.min_lr,
    }
    engine = build_any_engine(cfg, model, ds_config, device, world, schedule)

    state = TrainState(world_size=world)
    if resume_from is not None:
        state = checkpoints.load(engine, resume_from, world, cfg.batch_size)
    if loader is None:  # a stream starts where the run stopped
        loader = build_input_loader(plan, cfg, loader_config(cfg, rank, world, state.micro))
    try:  # only now that data and checkpoint are found: a run refused for bad input leaves no output folder
        (out / "recon").mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the output folder ({err.strerror})") from None
    logs = Logs(out, None if resume_from is None else engine.global_steps) if rank == 0 else None
    try:
        if rank == 0:
            write_json_atomic(out / "config.json", asdict(cfg))  # what --config takes: the run again
            write_json_atomic(
                out / "run.json",
                {
                    "world_size": world,
                    "run_precision": run_precision(cfg, ds_config, device),
                    "deepspeed_config": ds_config,
                },
            )
        to_input = (
            None
            if plan.kind == "image"
            else model_input(plan, out, rank, device, next(engine.module.parameters()).dtype)
        )
        unit = {"image": "images", "sound": "clips", "mix": "samples"}[plan.kind]
        trainer = Trainer(cfg, engine, model, out, rank, world, device, steps, checkpoints, logs, to_input, unit)
        while not trainer.done:
            trainer.train_one_epoch(loader, state, per_epoch)

        weights_state = full_fp32_state(engine)
        if rank == 0:
            trainer.progress.close()
            step = engine.global_steps
            spectrogram = {} if to_input is None else spectrogram_meta(model, plan.kind, *to_input.norm("sound"))
            weights = export_encoder(
                model,
                weights_state,
                out,
                mae_model=cfg.model,
                steps=step,
                images=state.images,
                **spectrogram,
            )
            print(trainer.summary(weights, state.images), flush=True)
    finally:
        if logs:
            logs.close()
    dist.barrier()
    dist.destroy_process_group()


def main(argv=None) -> int:
    return run_cli(PROG, train, argv)


if __name__ == "__main__":
    sys.exit(main())

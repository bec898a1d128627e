"""Training batches from shards or from the live PatternStream: one contract, two engines.

    loader = build_loader(LoaderConfig(data="shards/", batch_size=64, image_size=224))
    loader.set_epoch(epoch)
    for images, labels in loader:    # images (B, 3, S, S) float32 normalised; labels (B,) int64
        ...

``--loader dali`` (default): DALI pipelines, (a) ``readers.webdataset`` with synpat-gen's .idx
files -> decode (``mixed`` on a GPU, ``cpu`` otherwise) -> augmentation, sharded over ranks and
reshuffled every epoch; (b) ``external_source`` fed by PatternStream -> the same augmentation
(train/image_aug.py). ``--loader torch``: webdataset / PatternStream -> the batched torch
augmentation, the reference and the path for machines without DALI.
Shards give one epoch per ``iter()``; a stream never ends.
"""

from __future__ import annotations

import gc
import os
import random
from dataclasses import dataclass

import numpy as np
import torch
from synpat.core.devices import torch_device
from synpat.core.errors import UserError
from synpat.gen.source import SourceSpec, spec_of
from synpat.gen.stream import PatternStream, StreamConfig
from synpat.train.image_aug import SCALE, crop_boxes, dali_augment, dali_augment_boxes, torch_augment
from synpat.train.labels import batch_labels, decode_cls
from synpat.train.shard_list import (
    IMAGE_MEDIA,
    check_tar,
    count_tar_samples,
    expand_urls,
    first_bad_sample,
    index_path,
    index_samples,
    is_remote,
    shard_read_error,
)

LOADERS = ("dali", "torch")


@dataclass
class LoaderConfig:
    data: str | list[str] | None = None  # shards: folders, files, brace patterns, URLs
    source: SourceSpec | None = None  # or the pattern source rendered live (programs, size, seed, ...)
    batch_size: int = 64  # per rank
    image_size: int = 224  # after augmentation
    loader: str = "dali"
    seed: int = 0
    rank: int = 0
    world_size: int = 1
    num_workers: int = 2  # DALI threads / torch DataLoader workers (shards)
    scale: tuple[float, float] = SCALE
    device: str | None = None  # default: cuda:LOCAL_RANK when CUDA is there, else cpu
    start_step: int = 0  # stream: resume from this global batch step

    def validate(self) -> None:
        if (self.data is None) == (self.source is None):
            raise UserError("give exactly one of --data (shards) and --stream (program folder)")
        if self.loader not in LOADERS:
            raise UserError(f"--loader: expected one of {', '.join(LOADERS)}, got '{self.loader}'")
        if self.batch_size < 1 or self.image_size < 1:
            raise UserError("batch size and image size: expected positive numbers")
        if not 0 <= self.rank < self.world_size:
            raise UserError(f"rank {self.rank} of world size {self.world_size}: expected 0 <= rank < world size")

    @property
    def torch_device(self) -> torch.device:
        return torch_device(self.device)


def _labels(samples_program: np.ndarray, device: torch.device) -> torch.Tensor:
    """(B,) int64 class ids on ``device``: pinned and non-blocking on CUDA (no host wait)."""
    labels = torch.from_numpy(samples_program)
    if device.type == "cuda":
        labels = labels.pin_memory()
    return labels.to(device, non_blocking=True)


def stream_batches(cfg: LoaderConfig, stream: PatternStream):
    """Forever: (images (B, H, W, 3) uint8, labels (B,) int64) as torch tensors on cfg's device
    (B: fewer when the source's filters drop samples). On a CUDA device the stream leaves the batch
    in CUDA memory (interop, no host copy, no host synchronisation) when it can; else it is read
    back and uploaded."""
    device = cfg.torch_device
    stream.pixels_to(str(device) if device.type == "cuda" else None)
    try:
        while True:
            samples, pixels, _ = stream.next_batch()
            images = torch.as_tensor(pixels)
            if not images.is_cuda and device.type == "cuda":
                images = images.pin_memory().to(device, non_blocking=True)
            yield images, _labels(samples.program.copy(), device)
    finally:
        stream.pixels_to(None)


# -- DALI ----------------------------------------------------------------------------------------


def _dali_device_id(cfg: LoaderConfig) -> int | None:
    device = cfg.torch_device
    return device.index if device.type == "cuda" else None


DALI_GPU_THREADS = 8  # host threads of a GPU pipeline at least: `mixed` decoding parses and Huffman-decodes on the host


def dali_threads(num_workers: int, on_gpu: bool, cpus: int | None = None, ranks_per_node: int = 1) -> int:
    """DALI's num_threads: ``num_workers`` (at least 1); on a GPU at least DALI_GPU_THREADS, capped by
    this rank's share of the CPUs (``cpus``, default os.cpu_count(), over ``ranks_per_node``)."""
    threads = max(1, num_workers)
    if on_gpu:
        share = max(1, (cpus or os.cpu_count() or 1) // max(1, ranks_per_node))
        threads = max(threads, min(DALI_GPU_THREADS, share))
    return threads


class DaliShardEpochs:
    """A DALI pipeline over shards (its reader named "reader", its outputs (data, cls)) -> this rank's
    share of every epoch as (data, labels (B,) int64 on data's device), the last short batch dropped;
    ``key`` names the data, ``media`` the members it is read from (shard_list.IMAGE_MEDIA or
    SOUND_MEDIA). A shard DALI cannot build from or read is one --data line."""

    def __init__(self, pipe, urls: list[str], key: str, media: tuple[str, ...] = IMAGE_MEDIA):
        from nvidia.dali.plugin.base_iterator import LastBatchPolicy
        from nvidia.dali.plugin.pytorch import DALIGenericIterator

        self.pipe = pipe
        try:
            self.pipe.build()
        except RuntimeError as e:
            bad = first_bad_sample(urls, media)
            raise UserError(
                f"--data: {bad}" if bad else f"--data: DALI cannot read the shards: {str(e).strip().splitlines()[0]}"
            ) from None
        self.urls, self.key, self.media = urls, key, media
        try:  # the iterator reads its first batch here
            self.iterator = DALIGenericIterator(
                [self.pipe],
                [key, "cls"],
                reader_name="reader",
                last_batch_policy=LastBatchPolicy.DROP,
                auto_reset=True,
            )
        except RuntimeError as e:
            if "no data in the pipeline" in str(e):  # this rank's share is shorter than one batch
                raise UserError(
                    f"--data holds fewer than batch_size = {self.pipe.max_batch_size} samples per rank: "
                    "use more shards or a smaller batch"
                ) from None
            bad = first_bad_sample(urls, media)
            raise UserError(
                f"--data: {bad}" if bad else f"--data: reading the shards failed: {str(e).strip().splitlines()[0]}"
            ) from None
        self._unfinished = False

    def __len__(self) -> int:
        return len(self.iterator)

    def set_epoch(self, epoch: int) -> None:
        """DALI reshuffles every epoch by itself (seeded at construction)."""

    def __iter__(self):
        if self._unfinished:  # the last epoch was left early and DALI cannot reset mid-epoch: finish it
            for _ in self.iterator:
                pass
        self._unfinished = True
        try:
            for batch in self.iterator:
                data = batch[0][self.key]
                yield data, batch_labels(batch[0]["cls"], self.urls, self.media).to(data.device)
        except RuntimeError as e:
            bad = first_bad_sample(self.urls, self.media)
            raise UserError(
                f"--data: {bad}" if bad else f"--data: reading the shards failed: {str(e).strip().splitlines()[0]}"
            ) from None
        self._unfinished = False


class DaliShardLoader(DaliShardEpochs):
    """DALI readers.webdataset -> decode -> augmentation; this rank's share of every epoch."""

    def __init__(self, cfg: LoaderConfig, urls: list[str]):
        from nvidia.dali import fn, pipeline_def, types

        if any(is_remote(u) for u in urls):
            raise UserError("--loader dali reads local shards only; use --loader torch for URLs")
        for u in urls:
            check_tar(u)
        indexes = [str(index_path(u)) for u in urls]
        device_id = _dali_device_id(cfg)
        counts = [index_samples(u) for u in urls]
        self.samples = sum(counts) if None not in counts else None

        threads = dali_threads(
            cfg.num_workers, device_id is not None, ranks_per_node=int(os.environ.get("LOCAL_WORLD_SIZE") or 1)
        )

        @pipeline_def(
            batch_size=cfg.batch_size,
            num_threads=threads,
            device_id=device_id,
            seed=cfg.seed * 1000 + cfg.rank,
            prefetch_queue_depth=2,
        )
        def pipeline():
            encoded, cls = fn.readers.webdataset(
                paths=urls,
                index_paths=indexes if all(map(lambda p: index_path(p).is_file(), urls)) else None,
                ext=[";".join(IMAGE_MEDIA), "cls"],
                missing_component_behavior="error",
                random_shuffle=True,
                initial_fill=min(4096, 4 * cfg.batch_size),
                shard_id=cfg.rank,
                num_shards=cfg.world_size,
                name="reader",
            )
            images = fn.decoders.image(
                encoded, device="mixed" if device_id is not None else "cpu", output_type=types.RGB
            )
            return dali_augment(images, cfg.image_size, cfg.scale), fn.pad(cls, fill_value=32)

        super().__init__(pipeline(), urls, "images")


class DaliStreamLoader:
    """PatternStream -> DALI external_source -> the same augmentation, forever. Each batch's crops and
    flips come from a generator seeded by (seed, rank, step), as on the torch path, and are fed to
    DALI beside the images: a resumed stream repeats an uninterrupted one exactly."""

    def __init__(self, cfg: LoaderConfig, stream: PatternStream):
        from nvidia.dali import fn, pipeline_def, types
        from nvidia.dali.plugin.pytorch import DALIGenericIterator

        self.batches = stream_batches(cfg, stream)
        self.cfg, self.step = cfg, stream.step
        self._pending: dict = {}
        device_id = _dali_device_id(cfg)
        on_gpu = device_id is not None

        # prefetch_queue_depth=1: DALI asks for the next batch only when one is taken (no render-ahead).
        @pipeline_def(
            batch_size=cfg.batch_size,
            num_threads=max(1, cfg.num_workers),
            device_id=device_id,
            seed=cfg.seed * 1000 + cfg.rank,
            prefetch_queue_depth=1,
            exec_async=False,
            exec_pipelined=False,
        )
        def pipeline():
            images, labels = fn.external_source(
                source=lambda: self._take("batch"),
                num_outputs=2,
                batch=True,
                device="gpu" if on_gpu else "cpu",
                layout=["HWC", ""],
                dtype=[types.UINT8, types.INT64],
                cuda_stream=torch.cuda.current_stream(cfg.torch_device) if on_gpu else None,
            )
            boxes = fn.external_source(source=lambda: self._take("boxes"), batch=True, device="cpu", dtype=types.FLOAT)
            return dali_augment_boxes(images, boxes, cfg.image_size), labels

        self.pipe = pipeline()
        self.pipe.build()
        self.iterator = DALIGenericIterator([self.pipe], ["images", "labels"], size=-1)

    def _take(self, part: str):
        """The next step's "batch" (images, labels) or "boxes" ((B, 4) float32 crops, the torch path's
        draw for that step): DALI asks for each once per step, in either order."""
        if not self._pending:
            images, labels = next(self.batches)
            gen = torch.Generator().manual_seed(hash((self.cfg.seed, self.cfg.rank, 0, self.step)) & 0x7FFFFFFFFFFFFFFF)
            self.step += 1
            if not images.is_cuda:  # DALI takes host batches as numpy (torch CPU tensors make it probe CUDA)
                images, labels = images.numpy(), labels.numpy()
            # on the GPU DALI copies them on torch's current stream, which waits for the render
            self._pending = {"batch": (images, labels), "boxes": crop_boxes(len(labels), self.cfg.scale, gen).numpy()}
        return self._pending.pop(part)

    def set_epoch(self, epoch: int) -> None:
        """A stream has no epochs."""

    def __iter__(self):
        for batch in self.iterator:
            yield batch[0]["images"], batch[0]["labels"].reshape(-1)


# -- torch ---------------------------------------------------------------------------------------


def _augment_batches(batches, cfg: LoaderConfig, epoch: int, first: int):
    """(images (B, H, W, 3) uint8, labels) -> augmented on cfg's device. Batch i draws its crops from a
    generator seeded by (seed, rank, epoch, first + i), so a resumed run repeats an uninterrupted one."""
    device = cfg.torch_device
    for i, (images, labels) in enumerate(batches, start=first):
        gen = torch.Generator().manual_seed(hash((cfg.seed, cfg.rank, epoch, i)) & 0x7FFFFFFFFFFFFFFF)
        images = torch.as_tensor(images).to(device, non_blocking=True)
        yield torch_augment(images, cfg.image_size, gen, cfg.scale), torch.as_tensor(labels).long().to(device)


def shuffled_samples(urls: list[str], cfg: LoaderConfig, epoch: int, fail):
    """The torch loaders' webdataset of ``urls``: shards shuffled and split over workers, samples
    shuffled in a buffer, both seeded by ``cfg.seed + epoch``; ``fail`` handles a read error."""
    import webdataset as wds

    return wds.WebDataset(
        urls,
        shardshuffle=len(urls),
        seed=cfg.seed + epoch,
        nodesplitter=None,
        workersplitter=wds.split_by_worker,
        handler=fail,
        empty_check=False,
    ).shuffle(min(4096, 4 * cfg.batch_size), rng=random.Random(cfg.seed + epoch))


class TorchShardLoader:
    """webdataset -> decode -> the batched torch augmentation; this rank takes every world_size-th shard."""

    def __init__(self, cfg: LoaderConfig, urls: list[str]):
        for u in urls:
            if not is_remote(u):
                check_tar(u)
        self.cfg, self.epoch = cfg, 0
        self.urls = urls[cfg.rank :: cfg.world_size]
        if not self.urls:
            raise UserError(f"--data: {len(urls)} shards cannot feed {cfg.world_size} ranks (one shard each at least)")
        self.counts = [None if is_remote(u) else index_samples(u) for u in self.urls]
        self.samples = sum(self.counts) if None not in self.counts else None

    @property
    def workers(self) -> int:
        return max(1, min(self.cfg.num_workers, len(self.urls)))

    def count_samples(self) -> None:
        """Count the samples of the shards without an index by reading them once (keys, not images)."""
        self.counts = [n if n is not None else count_tar_samples(u) for u, n in zip(self.urls, self.counts)]
        self.samples = sum(self.counts)

    def __len__(self) -> int:
        """Batches per epoch: each DataLoader worker reads its own shards and drops its partial batch."""
        if self.samples is None:
            raise TypeError("the number of samples is unknown (no .idx beside the shards)")
        return sum(sum(self.counts[w :: self.workers]) // self.cfg.batch_size for w in range(self.workers))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _dataset(self):
        def fail(exn):
            raise UserError(f"--data: {shard_read_error(exn)}") from None

        cfg = self.cfg
        return (
            shuffled_samples(self.urls, cfg, self.epoch, fail)
            .decode(decode_cls, "rgb8", handler=fail)
            .to_tuple(";".join(IMAGE_MEDIA), "cls", handler=fail)
            .map_tuple(np.asarray, int)
            .batched(cfg.batch_size, partial=False)
        )

    def __iter__(self):
        workers = self.workers if self.cfg.num_workers > 0 else 0
        pin = self.cfg.torch_device.type == "cuda"  # pinned batches: the non_blocking copy below is asynchronous
        batches = _start_workers(
            torch.utils.data.DataLoader(self._dataset(), batch_size=None, num_workers=workers, pin_memory=pin)
        )
        try:
            yield from _augment_batches(batches, self.cfg, self.epoch, 0)
        except UserError as err:  # from a worker, wrapped with its traceback: keep the message
            raise UserError(
                str(err).strip().splitlines()[-1].removeprefix(f"{UserError.__module__}.UserError: ")
            ) from None


def _start_workers(loader: torch.utils.data.DataLoader):
    """iter(loader) with this process's objects frozen while its workers fork, so a worker's garbage
    collector never finalises its copies of them (a GL object of a renderer released in a forked
    child, where the driver's threads do not exist, can crash the worker)."""
    gc.collect()
    gc.freeze()
    try:
        return iter(loader)
    finally:
        gc.unfreeze()


class TorchStreamLoader:
    """PatternStream -> the batched torch augmentation, forever; renders in this process, on demand."""

    def __init__(self, cfg: LoaderConfig, stream: PatternStream):
        self.cfg, self.stream = cfg, stream

    def set_epoch(self, epoch: int) -> None:
        """A stream has no epochs."""

    def __iter__(self):
        yield from _augment_batches(stream_batches(self.cfg, self.stream), self.cfg, 0, self.stream.step)


def build_stream(cfg: LoaderConfig) -> PatternStream:
    """The PatternStream of cfg's source for this rank, rendering on the EGL device paired with cfg's GPU."""
    device = cfg.torch_device
    return PatternStream(
        StreamConfig(
            **vars(spec_of(cfg.source)),
            batch_size=cfg.batch_size,
            rank=cfg.rank,
            world_size=cfg.world_size,
            start_step=cfg.start_step,
        ),
        cuda_index=device.index if device.type == "cuda" else None,
    )


def build_loader(cfg: LoaderConfig):
    """-> an iterable of (images (B, 3, S, S) float32, labels (B,) int64) with set_epoch()."""
    cfg.validate()
    if cfg.source is not None:
        stream = build_stream(cfg)
        return DaliStreamLoader(cfg, stream) if cfg.loader == "dali" else TorchStreamLoader(cfg, stream)
    urls = expand_urls(cfg.data)
    return DaliShardLoader(cfg, urls) if cfg.loader == "dali" else TorchShardLoader(cfg, urls)

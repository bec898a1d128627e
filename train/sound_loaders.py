"""Training batches of sound clips: the same contract as train/loaders.py, with waves for images.

    loader = build_sound_loader(cfg, fmt)      # cfg: a LoaderConfig, fmt: the shards' SoundFormat
    for waves, labels in loader:               # waves (B, C, S) float32 in [-1, 1]; labels (B,) int64
        ...

Shards (synpat-gen's sound shards: KEY.flac, KEY.cls, KEY.json): ``--loader dali`` reads them with
``readers.webdataset`` and decodes with ``decoders.audio`` (libsndfile), ``--loader torch`` with
webdataset + soundfile in DataLoader workers; both cut or zero-pad every clip to the manifest's
length, shard over ranks and reshuffle every epoch as the image loaders do. The spectrogram is
made later, batched, on the training device (train/input_kinds.py).

A stream of sound programs: `SoundStreamLoader` takes batches from a stream whose ``next_waves()``
returns (waves (B, C, S) float32 array or tensor, labels (B,) int) and keeps its ``step``.
`MixLoader` zips a sound loader and an image loader into ((waves, imgs), labels) batches.
"""

from __future__ import annotations

import io
import os

import numpy as np
import torch
from synpat.core.errors import UserError
from synpat.train.input_kinds import SoundFormat
from synpat.train.labels import decode_cls
from synpat.train.loaders import (
    DaliShardEpochs,
    LoaderConfig,
    TorchShardLoader,
    _dali_device_id,
    _start_workers,
    dali_threads,
    shuffled_samples,
)
from synpat.train.shard_list import (
    SOUND_MEDIA,
    check_tar,
    first_bad_sample,
    index_path,
    index_samples,
    is_remote,
    shard_read_error,
)

SOUND_EXT = SOUND_MEDIA[0]


def decode_clip(data: bytes, samples: int) -> np.ndarray:
    """A FLAC (any soundfile format) file's bytes -> (channels, samples) float32, cut or zero-padded."""
    import soundfile  # where used: a GPU machine without it still trains on images (gpu_check's device-like run)

    wave, _ = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)  # (S, C)
    out = np.zeros((wave.shape[1], samples), np.float32)
    n = min(samples, wave.shape[0])
    out[:, :n] = wave[:n].T
    return out


def _on(device: torch.device, t: torch.Tensor) -> torch.Tensor:
    return (t.pin_memory() if device.type == "cuda" else t).to(device, non_blocking=True)


class TorchSoundShardLoader(TorchShardLoader):
    """webdataset -> soundfile in the DataLoader workers -> (waves, labels) on cfg's device."""

    def __init__(self, cfg: LoaderConfig, urls: list[str], fmt: SoundFormat):
        super().__init__(cfg, urls)
        self.fmt = fmt

    def _dataset(self):
        from webdataset.autodecode import DecodingError

        def fail(exn):
            bad = None if isinstance(exn, DecodingError) else first_bad_sample(self.urls, SOUND_MEDIA)
            raise UserError(f"--data: {bad or shard_read_error(exn)}") from None

        def decode_flac(key: str, data: bytes) -> np.ndarray | None:  # a webdataset decoder: the .flac member
            return decode_clip(data, samples) if key == f".{SOUND_EXT}" else None

        cfg, samples = self.cfg, self.fmt.samples
        return (
            shuffled_samples(self.urls, cfg, self.epoch, fail)
            .decode(decode_flac, decode_cls, handler=fail)  # a member that fails is named (DecodingError)
            .to_tuple(SOUND_EXT, "cls", handler=fail)
            .batched(cfg.batch_size, partial=False)
        )

    def __iter__(self):
        workers = self.workers if self.cfg.num_workers > 0 else 0
        device = self.cfg.torch_device  # pinned batches on a GPU: the non_blocking copy below is asynchronous
        batches = _start_workers(
            torch.utils.data.DataLoader(
                self._dataset(), batch_size=None, num_workers=workers, pin_memory=device.type == "cuda"
            )
        )
        try:
            for waves, labels in batches:
                yield (
                    torch.as_tensor(waves).to(device, non_blocking=True),
                    torch.as_tensor(labels).long().to(device, non_blocking=True),
                )
        except UserError as err:  # from a worker, wrapped with its traceback: keep the message
            raise UserError(
                str(err).strip().splitlines()[-1].removeprefix(f"{UserError.__module__}.UserError: ")
            ) from None


class DaliSoundShardLoader(DaliShardEpochs):
    """DALI readers.webdataset -> decoders.audio -> cut/pad to the clip length; this rank's share of every epoch."""

    def __init__(self, cfg: LoaderConfig, urls: list[str], fmt: SoundFormat):
        from nvidia.dali import fn, pipeline_def, types

        if any(is_remote(u) for u in urls):
            raise UserError("--loader dali reads local shards only; use --loader torch for URLs")
        for u in urls:
            check_tar(u)
        device_id = _dali_device_id(cfg)
        counts = [index_samples(u) for u in urls]
        self.samples = sum(counts) if None not in counts else None
        indexes = [str(index_path(u)) for u in urls] if all(index_path(u).is_file() for u in urls) else None

        threads = dali_threads(
            cfg.num_workers,
            device_id is not None,  # decoding runs on the host
            ranks_per_node=int(os.environ.get("LOCAL_WORLD_SIZE") or 1),
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
                index_paths=indexes,
                ext=[SOUND_EXT, "cls"],
                missing_component_behavior="error",
                random_shuffle=True,
                initial_fill=min(4096, 4 * cfg.batch_size),
                shard_id=cfg.rank,
                num_shards=cfg.world_size,
                name="reader",
            )
            audio, _ = fn.decoders.audio(encoded, dtype=types.FLOAT, downmix=False)  # (S, C), CPU
            audio = fn.slice(audio, start=[0], shape=[fmt.samples], axes=[0], out_of_bounds_policy="pad")
            audio = fn.transpose(audio, perm=[1, 0])  # (C, S)
            return (audio.gpu() if device_id is not None else audio), fn.pad(cls, fill_value=32)

        super().__init__(pipeline(), urls, "waves", SOUND_MEDIA)


class SoundStreamLoader:
    """A stream of sound programs -> (waves (B, C, S) float32, labels (B,) int64) on cfg's device, forever.
    The stream renders on demand; its ``step`` is where a resumed run starts."""

    def __init__(self, cfg: LoaderConfig, stream):
        self.cfg, self.stream = cfg, stream

    def set_epoch(self, epoch: int) -> None:
        """A stream has no epochs."""

    def __iter__(self):
        device = self.cfg.torch_device
        while True:
            waves, labels = self.stream.next_waves()
            waves = torch.as_tensor(waves, dtype=torch.float32)
            yield (waves if waves.device == device else _on(device, waves)), _on(device, torch.as_tensor(labels).long())


class MixLoader:
    """Sound and image batches zipped: ((waves (Bs, C, S), imgs (Bi, 3, H, W)), labels (Bs + Bi,)),
    each kind's labels its own shards' classes. An epoch ends when either loader's does."""

    def __init__(self, sounds, images):
        self.sounds, self.images = sounds, images

    def __len__(self) -> int:
        return min(len(self.sounds), len(self.images))

    def count_samples(self) -> None:
        for loader in (self.sounds, self.images):
            if hasattr(loader, "count_samples"):
                loader.count_samples()

    def set_epoch(self, epoch: int) -> None:
        self.sounds.set_epoch(epoch)
        self.images.set_epoch(epoch)

    def __iter__(self):
        for (waves, sound_labels), (imgs, image_labels) in zip(self.sounds, self.images):
            yield (waves, imgs), torch.cat([sound_labels, image_labels.to(sound_labels.device)])


def build_sound_loader(cfg: LoaderConfig, fmt: SoundFormat, urls: list[str]):
    """-> an iterable of (waves (B, C, S) float32, labels (B,) int64) with set_epoch() over sound shards."""
    cfg.validate()
    return DaliSoundShardLoader(cfg, urls, fmt) if cfg.loader == "dali" else TorchSoundShardLoader(cfg, urls, fmt)

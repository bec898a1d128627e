"""synpat-gen whose ``--jpeg-encoder gpu`` is torchvision's encoder on the CPU, for the tests on a machine
without a GPU: the nvJPEG path's code (one encode_jpeg call per shard, the encoder's name in the manifest,
the resume checks) with the same function on CPU tensors, which writes what Pillow does (libjpeg-turbo,
4:2:0). Run as a script with synpat-gen's arguments."""

import sys

from synpat.gen import cli, generate
from synpat.gen.jpeg import Encoder, choose_encoder

TORCH_CPU = "torchvision-cpu"


def torch_on_cpu(choice: str, fmt: str, egl_device, local_rank) -> Encoder:
    return Encoder(TORCH_CPU, "cpu") if choice == "gpu" else choose_encoder(choice, fmt, egl_device, local_rank)


if __name__ == "__main__":
    generate.choose_encoder = torch_on_cpu
    sys.exit(cli.main())

"""DeepSpeed JSON configs without importing DeepSpeed: one generated for each ZeRO stage (0-3) and
precision (fp32|bf16|fp16), named 'zero2_bf16' and so on, or a user's own file.

    python -m synpat.train.deepspeed_configs zero2_bf16 --out ds.json    # a file to start editing from
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synpat.core.errors import UserError
from synpat.core.files import write_atomic
from synpat.core.settings import option, parse_settings, run_cli, settings_parser

PROG = "python -m synpat.train.deepspeed_configs"
PRECISIONS = ("fp32", "bf16", "fp16")
_NAME = re.compile(r"zero([0-3])_(fp32|bf16|fp16)")


def generated_config(stage: int, precision: str) -> dict:
    """The DeepSpeed JSON synpat uses for ZeRO `stage` (0-3) and `precision` (fp32|bf16|fp16). The
    batch sizes and AdamW values are filled in later from the pre-training settings (fill_deepspeed_config)."""
    zero: dict = {"stage": stage}
    if stage >= 2:
        zero.update(contiguous_gradients=True, overlap_comm=False, reduce_bucket_size=500_000_000)
        zero.update(allgather_bucket_size=500_000_000) if stage == 2 else zero.update(
            stage3_prefetch_bucket_size=50_000_000, stage3_param_persistence_threshold=100_000
        )
    cfg = {"optimizer": {"type": "AdamW", "params": {"torch_adam": True}}, "zero_optimization": zero}
    if precision == "bf16":
        cfg["bf16"] = {"enabled": True}
    elif precision == "fp16":
        cfg["fp16"] = {
            "enabled": True,
            "loss_scale": 0,
            "initial_scale_power": 16,
            "loss_scale_window": 1000,
            "hysteresis": 2,
            "min_loss_scale": 1,
        }
    cfg.update(gradient_clipping=0.0, steps_per_print=1_000_000_000, wall_clock_breakdown=False)
    return cfg


def config_precision(cfg: dict) -> str:
    """fp32 | bf16 | fp16: the precision a DeepSpeed config enables."""
    return next((name for name in ("bf16", "fp16") if cfg.get(name, {}).get("enabled")), "fp32")


def is_config_name(value: str) -> bool:
    """'zero2_bf16' and the like name a generated config; anything else is a JSON file's path."""
    return _NAME.fullmatch(value) is not None


def deepspeed_config(value: str) -> dict:
    """A name ('zero2_bf16': ZeRO stage x precision) -> its generated config; anything else -> that JSON file."""
    match = _NAME.fullmatch(value)
    return generated_config(int(match.group(1)), match.group(2)) if match else load_deepspeed_config(value)


def load_deepspeed_config(path: str | Path) -> dict:
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except OSError as err:
        raise UserError(f"DeepSpeed config {path}: cannot read ({err.strerror})") from None
    except json.JSONDecodeError as err:
        raise UserError(f"DeepSpeed config {path}: invalid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise UserError(f"DeepSpeed config {path}: expected a JSON object")
    return obj


@dataclass
class WriteSettings:
    name: str = option("", "zero{0,1,2,3}_{fp32,bf16,fp16}", positional=True)
    out: str = option("", "file to write (default: stdout)")


def validate(cfg: WriteSettings) -> WriteSettings:
    if not is_config_name(cfg.name):
        raise UserError(f"{cfg.name!r} is not zero{{0-3}}_{{fp32|bf16|fp16}}")
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    parser = settings_parser(WriteSettings, PROG, "Write a generated DeepSpeed config, to edit.")
    cfg = validate(parse_settings(WriteSettings, argv, parser))
    text = json.dumps(deepspeed_config(cfg.name), indent=2) + "\n"
    if cfg.out:
        write_atomic(Path(cfg.out), text.encode())
    else:
        sys.stdout.write(text)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m synpat.train.deepspeed_configs zero2_bf16 [--out ds.json]`: write a generated config to edit."""
    return run_cli(PROG, _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""core.settings, the one way commands read settings: defaults <- --config file <- --set <- flags, the same
for flags, positional arguments and many-valued fields; a bad key or value is a UserError naming it."""

from dataclasses import dataclass

import pytest
from synpat.core.errors import UserError
from synpat.core.settings import option, parse_settings, settings_parser


@dataclass
class Toy:
    sources: tuple[str, ...] = option((), "inputs", positional=True)
    size: int = option(8, "a size")
    rate: float = option(0.5, "a rate")
    name: str = option("a", "a name")
    fast: bool = option(False, "a switch")
    tags: tuple[str, ...] = option(("x",), "several values")


def parse(argv):
    return parse_settings(Toy, argv, settings_parser(Toy, "toy", "a toy"))


def test_layers_config_then_set_then_flags(tmp_path):
    file = tmp_path / "toy.yaml"
    file.write_text("size: 16\nrate: 1\nname: file\nfast: true\ntags: [p, q]\nsources: [s1, s2]\n")
    assert parse(["--config", str(file)]) == Toy(("s1", "s2"), 16, 1.0, "file", True, ("p", "q"))
    assert parse(["--config", str(file), "--set", "size=32", "--set", "tags=u,v", "--set", "fast=no"]) == Toy(
        ("s1", "s2"), 32, 1.0, "file", False, ("u", "v")
    )
    assert parse(["--config", str(file), "--set", "size=32", "--size", "64", "--tags", "w", "--no-fast", "s3"]) == Toy(
        ("s3",), 64, 1.0, "file", False, ("w",)
    )
    assert parse([]) == Toy()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "colour=red"], "--set: unknown config key(s) 'colour'"),
        (["--size", "2.5"], "bad config value size='2.5': not a int"),
        (["--rate", "nan"], "bad config value rate=nan: not a finite number"),
        (["--set", "size"], "--set 'size': expected KEY=VALUE"),
        (["--sizes", "3"], "unrecognized arguments: --sizes"),
    ],
)
def test_bad_input_is_a_user_error_naming_it(argv, message):
    with pytest.raises(UserError) as err:
        parse(argv)
    assert message in str(err.value)


def test_a_config_file_list_must_hold_strings(tmp_path):
    file = tmp_path / "toy.json"
    file.write_text('{"tags": [1, 2]}')
    with pytest.raises(UserError, match=r"bad config value tags=\[1, 2\]: not a list of strings"):
        parse(["--config", str(file)])

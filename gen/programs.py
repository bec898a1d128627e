"""Programs: Shadertoy "Image" sources found in folders and files, named, hashed and sorted.

A program's class id is its index in the sorted list of the programs a run accepts; the
manifest records the mapping.
"""

from __future__ import annotations

import codecs
import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from synpat.core.errors import UserError

from . import sound_grammar
from .glsl import fragment_only_reason, has_entry, program_kind
from .grammar import parse_source, program_sources

SUFFIXES = (".glsl", ".frag")
SOUNDS_FOLDER = "sounds"  # the bundled sound programs: a folder of the bundled shaders that the image set leaves out
BUNDLED_SOUNDS = "bundled:sounds"  # --shaders word for them
UNKNOWN_FAMILY = "other"
_FAMILY = re.compile(r"^[ \t]*//[ \t]*family[ \t]*:[ \t]*([\w.-]+)", re.M)


@dataclass(frozen=True)
class Program:
    name: str  # path relative to the folder it was found in, without suffix, '/'-separated
    path: str  # the file it came from
    source: str

    @property
    def hash(self) -> str:
        """sha256 of the source (hex, 16 characters)."""
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    @property
    def family(self) -> str:
        """The family a ``// family: NAME`` comment line names, or UNKNOWN_FAMILY without one."""
        m = _FAMILY.search(self.source)
        return m.group(1) if m else UNKNOWN_FAMILY

    @property
    def kind(self) -> str:
        """``image`` (a Shadertoy program), ``splat`` (a ``// kind: splat`` header line: points
        scattered by splatStep, then resolved by mainImage) or ``sound`` (it defines mainSound);
        raises UserError for another kind."""
        try:
            return program_kind(self.source)
        except ValueError as e:
            raise UserError(f"{self.path}: {e}") from None

    @property
    def fragment_reason(self) -> str | None:
        """Why only the fragment backend can render it, or None."""
        return fragment_only_reason(self.source)


def bundled_shaders_dir() -> Path:
    """The folder of the programs shipped with synpat (package data ``synpat.shaders``)."""
    spec = importlib.util.find_spec("synpat.shaders")
    folders = [Path(p) for p in (spec.submodule_search_locations or []) if Path(p).is_dir()] if spec else []
    if not folders:
        raise UserError("the bundled shaders (package synpat.shaders) are not installed; pass --shaders")
    return folders[0]


def _read(path: Path, name: str) -> Program:
    """A program file; one that is not UTF-8 (a comment written in Latin-1 or cp1252) is read byte for
    byte as Latin-1, so it compiles, or is rejected by the checks like any program that does not."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    return Program(name=name, path=str(path), source=decode_source(data))


def decode_source(data: bytes) -> str:
    """A program file's bytes -> its text: UTF-8 without its byte order mark (what Windows editors
    write first), UTF-16 by its byte order mark, else Latin-1 byte for byte. NUL bytes are kept:
    the renderer rejects such a program with its reason (glsl.check_text)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: read byte for byte below, and rejected for its NUL bytes
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def procedural_programs(n: int, seed: int) -> list[Program]:
    """The first n programs of the grammar's set ``seed`` (gen/grammar.py)."""
    return [
        Program(name=name, path=f"procedural:{n}@{seed}/{name}", source=source)
        for name, source in program_sources(n, seed)
    ]


def procedural_sound_programs(n: int, seed: int) -> list[Program]:
    """The first n programs of the sound grammar's set ``seed`` (gen/sound_grammar.py)."""
    return [
        Program(name=name, path=f"{sound_grammar.PREFIX}{n}@{seed}/{name}", source=source)
        for name, source in sound_grammar.program_sources(n, seed)
    ]


def _kind_or_none(program: Program) -> str | None:
    """The program's kind, or None for a bad ``// kind:`` line or a file with neither mainImage nor
    mainSound, an empty one say (the checks reject that program)."""
    try:
        kind = program.kind
    except UserError:
        return None
    return kind if kind != "image" or has_entry(program.source) else None


def run_kind(programs: list[Program]) -> str:
    """``sound`` when the programs are sound programs, ``image`` when none is (splat programs are
    images; a program with a bad ``// kind:`` line or no mainImage or mainSound counts for neither:
    the checks reject it);
    UserError naming one of each when a run mixes them."""
    kinds = [_kind_or_none(p) for p in programs]
    sounds = [p for p, k in zip(programs, kinds) if k == "sound"]
    images = [p for p, k in zip(programs, kinds) if k not in ("sound", None)]
    if sounds and images:
        image = images[0]
        raise UserError(
            f"--shaders: image and sound programs in one run ({image.path} draws images, "
            f"{sounds[0].path} makes sound); give one kind"
        )
    return "sound" if sounds else "image"


def _folder_files(root: Path) -> list[Path]:
    """The program files under ``root``; the bundled folder's SOUNDS_FOLDER is left out (its image set)."""
    files = sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    try:
        bundled = root.resolve() == bundled_shaders_dir().resolve()
    except UserError:
        bundled = False
    return [p for p in files if p.relative_to(root).parts[0] != SOUNDS_FOLDER] if bundled else files


def find_programs(sources: list[str | Path], seed: int = 0) -> list[Program]:
    """Programs from folders (searched recursively for *.glsl, *.frag), files, procedural sets
    (``procedural:N`` seeded by ``seed``, or ``procedural:N@SEED``; ``procedural-sound:N[@SEED]`` for
    sound programs) and ``bundled:sounds``, sorted by name."""
    if not sources:
        raise UserError("--shaders: give at least one folder or file of GLSL programs, or procedural:N")
    found: dict[str, Program] = {}
    for src in sources:
        root = Path(src)
        procedural = parse_source(str(src), seed)
        procedural_sound = sound_grammar.parse_source(str(src), seed)
        if str(src) == BUNDLED_SOUNDS:
            root = bundled_shaders_dir() / SOUNDS_FOLDER
        if procedural is not None:
            programs = procedural_programs(*procedural)
        elif procedural_sound is not None:
            programs = procedural_sound_programs(*procedural_sound)
        elif root.is_dir():
            files = _folder_files(root)
            if not files:
                raise UserError(f"{root}: no *.glsl or *.frag programs in this folder")
            programs = [_read(p, p.relative_to(root).with_suffix("").as_posix()) for p in files]
        elif root.is_file():
            programs = [_read(root, root.stem)]
        else:
            raise UserError(f"{root}: no such shader folder or file")
        for program in programs:
            name = program.name
            if name in found and found[name].path != program.path:
                raise UserError(f"{program.path}: program name '{name}' is also used by {found[name].path}; rename one")
            found[name] = program
    return [found[k] for k in sorted(found)]

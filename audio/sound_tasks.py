"""Small audio classification tasks made by existing sound engines (`synpat-audio-tasks`).

    synpat-audio-tasks build keywords|pitch|instrument --out DIR [--per-class N] [--folds K] [--seed S]
                       [--snr-db LO,HI] [--duration SECONDS] [--classes LIST] [--jobs J] [--overwrite]
    synpat-audio-tasks baseline DIR [--folds K] [--mel-bins M]

The sounds come from engines packaged by Debian, not from our own formulas:

  keywords    10 words spoken by espeak-ng. A voice is an accent (en-gb, en-us, en-gb-scotland, ...)
              with a voice variant (m1, f3, john, linda, ...); every clip also gets its own pitch and
              speed. Each fold owns disjoint accents and disjoint variants, so a held-out fold holds
              only voices never heard in training.
  pitch       12 pitch classes of single notes played by fluidsynth from a General-MIDI soundfont
              with many GM programs (octave varied within the instrument's range). Each fold owns
              disjoint programs, so a held-out fold holds unseen instruments.
  instrument  GM families (piano, organ, guitar, bass, strings, brass, reed, pipe, ...) from the same
              engine; each fold owns disjoint programs of every family.

Every clip is mono 16 kHz, `--duration` seconds, with a random onset; half of them go through a
random room (sox `reverb`). sox mixes it (`sox -m`) with a segment of noise (pink, brown, white
and mains-hum banks made by `sox synth`, or recordings from `--noise-dir`) at an SNR drawn
uniformly from `--snr-db` (energy of sound / energy of noise over the whole clip), at a random
level between -30 and -15 dBFS RMS (lowered if a peak would pass 0.95).

DIR gets the ESC-50 layout (audio/*.wav, meta/esc50.csv with filename,fold,target,category plus
source and snr_db) and task.json: engines and their versions, the voices or programs of each
fold, every clip's parameters. The build runs in a hidden folder next to DIR that is renamed
at the end; the same arguments give the same bytes. `--keep-parts` also writes each clip's
sound and noise, scaled as mixed, to DIR/parts/ (float WAVs).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import multiprocessing
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from synpat.core.errors import UserError
from synpat.core.files import process_alive
from synpat.core.progress import Progress, format_seconds
from synpat.core.settings import Parser, add_settings, option, run_cli, settings_from_args

PROG = "synpat-audio-tasks"
RATE = 16000
KINDS = ("keywords", "pitch", "instrument")
LEVEL_DBFS = (-30.0, -15.0)  # RMS of the mixed clip
PEAK = 0.95
REVERB_PROBABILITY = 0.5
REVERB_TAIL_S = 0.3
NOISE_BANK_S = 30
NOISE_SYNTH = {  # sox synth arguments after the length (sox -R: the same bank on every run)
    "pink": ["pinknoise"],
    "brown": ["brownnoise"],
    "white": ["whitenoise", "lowpass", "6000"],
    "hum50": ["square", "50", "lowpass", "1200", "gain", "-6"],
    "hum60": ["sawtooth", "60", "lowpass", "900", "gain", "-6"],
}

# Debian packages that provide each tool; the soundfont may be any sf2 General-MIDI set.
PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox", "fluidsynth": "fluidsynth", "soundfont": "timgm6mb-soundfont"}
SOUNDFONTS = (  # smallest first
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
    "/usr/share/sounds/sf3/MuseScore_General.sf3",
)
NEEDS = {
    "keywords": ("espeak-ng", "sox"),
    "pitch": ("fluidsynth", "soundfont", "sox"),
    "instrument": ("fluidsynth", "soundfont", "sox"),
}

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m6", "m7", "m8", "john", "paul", "robert")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "anika", "belinda", "linda", "steph", "grandma")
ESPEAK_PITCH = (25, 75)  # -p, 0-99 (50 = the voice's own)
ESPEAK_SPEED = (130, 210)  # -s, words per minute

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# GM family: (programs, lowest and highest MIDI note played)
FAMILIES = {
    "piano": (range(0, 8), (36, 84)),
    "chromatic_percussion": (range(8, 16), (55, 96)),
    "organ": (range(16, 24), (36, 84)),
    "guitar": (range(24, 32), (40, 76)),
    "bass": (range(32, 40), (28, 55)),
    "strings": (range(40, 47), (40, 84)),  # 47 timpani left out
    "ensemble": (range(48, 55), (43, 79)),  # 55 orchestra hit left out
    "brass": (range(56, 64), (40, 76)),
    "reed": (range(64, 72), (45, 81)),
    "pipe": (range(72, 80), (60, 96)),
    "synth_lead": ((80, 81, 82, 83, 84, 85, 87), (45, 81)),  # 86 plays fifths: no single pitch class
    "ethnic": (range(104, 112), (48, 79)),
}
INSTRUMENT_FAMILIES = (
    "piano",
    "chromatic_percussion",
    "organ",
    "guitar",
    "bass",
    "strings",
    "brass",
    "reed",
    "pipe",
    "synth_lead",
)
GM_NAMES = (
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Voice",
    "Orchestra Hit",
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bag pipe",
    "Fiddle",
    "Shanai",
)
NOTE_ONSET = (0.0, 0.2)  # fractions of the clip
NOTE_LENGTH = (0.3, 0.8)
NOTE_VELOCITY = (50, 120)
FLUIDSYNTH_GAIN = "0.5"
TOOL_TIMEOUT_S = 120
SILENT_RMS = 1e-5
MAX_PITCH_FOLDS = 10


class ToolError(Exception):
    """An engine failed on one clip; the message holds its command and stderr."""


# ---------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tools:
    """Paths of the engines (None: not needed for this kind)."""

    sox: str
    espeak: str | None = None
    fluidsynth: str | None = None
    soundfont: str | None = None


def not_a_soundfont(path: Path) -> str | None:
    """Why ``path`` is not a SoundFont (an sf2/sf3 file is a RIFF file of form ``sfbk``), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError as err:
        return f"cannot read ({err.strerror})"
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        return f"not a SoundFont (expected an .sf2/.sf3 file starting with RIFF....sfbk, got {head[:12]!r})"
    return None


def remove_dead_builds(out: Path) -> list[Path]:
    """Remove the temporary folders (``.OUT.building-HOST-PID``, ``.OUT.old-HOST-PID``; older ones without
    HOST) that builds of ``out`` killed on this host left; -> the folders removed."""
    host, removed = socket.gethostname(), []
    for path in out.parent.glob(f".{out.name}.*-*"):
        kind, _, owner = path.name[len(out.name) + 2 :].partition("-")
        who, _, pid = owner.rpartition("-")
        if kind in ("building", "old") and who in ("", host) and pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def find_tools(kind: str, soundfont: str | None = None) -> Tools:
    """The engines `kind` needs, or a UserError naming the Debian packages that provide the missing ones."""
    found, missing = {}, []
    for need in NEEDS[kind]:
        if need == "soundfont":
            if soundfont:
                if not Path(soundfont).is_file():
                    raise UserError(f"--soundfont {soundfont}: no such file")
                why = not_a_soundfont(Path(soundfont))
                if why:
                    raise UserError(f"--soundfont {soundfont}: {why}")
                found[need] = str(Path(soundfont).resolve())
                continue
            path = next((p for p in SOUNDFONTS if Path(p).is_file()), None)
        else:
            path = shutil.which(need)
        if path is None:
            missing.append(need)
        else:
            found[need] = path
    if missing:
        names = ", ".join("a General-MIDI soundfont" if m == "soundfont" else m for m in missing)
        raise UserError(
            f"{kind} needs {names}, not found; install the Debian packages: "
            f"apt-get install {' '.join(PACKAGES[m] for m in missing)}"
        )
    return Tools(
        sox=found["sox"],
        espeak=found.get("espeak-ng"),
        fluidsynth=found.get("fluidsynth"),
        soundfont=found.get("soundfont"),
    )


def run_tool(cmd: Sequence[str]) -> str:
    """Run an engine; its stdout, or ToolError with the command and the end of its stderr."""
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolError(f"{' '.join(cmd)}: {err}") from None
    if done.returncode != 0:
        tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise ToolError(f"{' '.join(cmd)} exited with {done.returncode}: {tail}")
    return done.stdout


def engine_versions(tools: Tools) -> dict:
    """First line of each engine's --version, and the soundfont's size and sha256."""
    out = {"sox": run_tool([tools.sox, "--version"]).strip().splitlines()[0].split(":", 1)[-1].strip()}
    if tools.espeak:
        out["espeak-ng"] = run_tool([tools.espeak, "--version"]).strip().splitlines()[0]
    if tools.fluidsynth:
        out["fluidsynth"] = run_tool([tools.fluidsynth, "--version"]).strip().splitlines()[0]
    if tools.soundfont:
        data = Path(tools.soundfont).read_bytes()
        out["soundfont"] = {"path": tools.soundfont, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    return out


def sox_cmd(tools: Tools, *args: str) -> list[str]:
    """sox with fixed random numbers (-R), no dither (-D) and only errors on stderr."""
    return [tools.sox, "-R", "-D", "-V1", *args]


def read_mono(path: Path) -> np.ndarray:
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != RATE:
        raise ToolError(f"{path}: {rate} Hz, expected {RATE}")
    return data.mean(axis=1)


# ---------------------------------------------------------------- MIDI


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def note_midi(program: int, note: int, velocity: int, onset_s: float, length_s: float, total_s: float) -> bytes:
    """A one-track standard MIDI file: `program` on channel 1 plays `note` from onset for length; ends at total."""
    tpq, tempo = 480, 500_000  # ticks per quarter note, microseconds per quarter note (120 bpm)

    def tick(seconds: float) -> int:
        return round(seconds * 1e6 / tempo * tpq)

    on, off, end = tick(onset_s), tick(onset_s + length_s), tick(max(total_s, onset_s + length_s))
    events = (
        _vlq(0)
        + b"\xff\x51\x03"
        + tempo.to_bytes(3, "big")
        + _vlq(0)
        + bytes([0xC0, program])
        + _vlq(on)
        + bytes([0x90, note, velocity])
        + _vlq(off - on)
        + bytes([0x80, note, 0])
        + _vlq(end - off)
        + b"\xff\x2f\x00"
    )
    return (
        b"MThd"
        + (6).to_bytes(4, "big")
        + (0).to_bytes(2, "big")
        + (1).to_bytes(2, "big")
        + tpq.to_bytes(2, "big")
        + b"MTrk"
        + len(events).to_bytes(4, "big")
        + events
    )


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class Recipe:
    """What to build: one kind, its classes, sizes and the random ranges."""

    kind: str
    classes: tuple[str, ...]
    per_class: int
    folds: int
    seed: int
    snr_db: tuple[float, float]
    duration: float

    @property
    def samples(self) -> int:
        return int(round(self.duration * RATE))


def default_classes(kind: str) -> tuple[str, ...]:
    return {"keywords": WORDS, "pitch": PITCH_CLASSES, "instrument": INSTRUMENT_FAMILIES}[kind]


def pick_classes(kind: str, text: str | None) -> tuple[str, ...]:
    """--classes: all (None), the first N, or a comma-separated list of names."""
    known = default_classes(kind)
    if not text:
        return known
    if text.strip().isdigit():
        n = int(text)
        if not 2 <= n <= len(known):
            raise UserError(f"--classes {text}: {kind} has 2 to {len(known)} classes")
        return known[:n]
    names = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in names if x not in known]
    if unknown or len(set(names)) != len(names) or len(names) < 2:
        raise UserError(f"--classes {text!r}: give 2 or more distinct names out of {', '.join(known)}")
    return names


def deal(items: Sequence, k: int, rng: np.random.Generator, start: int = 0) -> tuple[list[list], int]:
    """Shuffle `items` and deal them round-robin into k groups, starting at group `start`."""
    groups = [[] for _ in range(k)]
    turn = start
    for i in rng.permutation(len(items)):
        groups[turn % k].append(items[int(i)])
        turn += 1
    return groups, turn


def soundfont_samples(path: str) -> dict[int, frozenset[int]] | None:
    """Sample ids each General-MIDI program (bank 0) of an sf2/sf3 soundfont plays, read from its
    preset/instrument tables; None when the file cannot be parsed. Small soundfonts reuse one
    recording for several programs (TimGM6mb: programs 0-3 share one piano), which folds must know."""
    try:
        data = Path(path).read_bytes()
        if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
            return None

        def chunks(start: int, end: int):
            while start + 8 <= end:
                size = struct.unpack_from("<I", data, start + 4)[0]
                yield data[start : start + 4], start + 8, size
                start += 8 + size + (size & 1)

        tables = {}
        for cid, off, size in chunks(12, len(data)):
            if cid == b"LIST" and data[off : off + 4] == b"pdta":
                tables = {sid.decode(): data[so : so + ss] for sid, so, ss in chunks(off + 4, off + size)}

        def records(name: str, fmt: str) -> list[tuple]:
            return list(
                struct.iter_unpack(
                    fmt, tables[name][: len(tables[name]) // struct.calcsize(fmt) * struct.calcsize(fmt)]
                )
            )

        phdr, pbag, pgen = records("phdr", "<20sHHHIII"), records("pbag", "<HH"), records("pgen", "<HH")
        inst, ibag, igen = records("inst", "<20sH"), records("ibag", "<HH"), records("igen", "<HH")

        def generators(bags, gens, first: int, last: int, oper: int) -> set[int]:
            return {
                gens[g][1] for b in range(first, last) for g in range(bags[b][0], bags[b + 1][0]) if gens[g][0] == oper
            }

        samples_of_inst = {i: generators(ibag, igen, inst[i][1], inst[i + 1][1], 53) for i in range(len(inst) - 1)}
        out = {}
        for i in range(len(phdr) - 1):
            _, program, bank, bag = phdr[i][:4]
            if bank == 0:
                insts = generators(pbag, pgen, bag, phdr[i + 1][3], 41)
                out[program] = frozenset(x for k in insts for x in samples_of_inst.get(k, ()))
        return out
    except (OSError, KeyError, IndexError, struct.error):
        return None


def sharing_units(programs: Sequence[int], samples: dict[int, frozenset[int]] | None) -> list[list[int]]:
    """`programs` grouped into connected sets of programs that play a common sample."""
    units = [[p] for p in programs]
    if not samples:
        return units
    merged = True
    while merged:
        merged = False
        for i in range(len(units)):
            for j in range(i + 1, len(units)):
                a = set().union(*(samples.get(p, frozenset()) for p in units[i]))
                if a & set().union(*(samples.get(p, frozenset()) for p in units[j])):
                    units[i] = sorted(units[i] + units.pop(j))
                    merged = True
                    break
            if merged:
                break
    return units


def deal_units(units: list[list[int]], k: int, rng: np.random.Generator) -> list[list[int]]:
    """Units (lists of programs) into k groups: shuffled, largest first, each to the group with the
    fewest programs so far (ties: a seeded order of the groups)."""
    order = [units[int(i)] for i in rng.permutation(len(units))]
    order.sort(key=len, reverse=True)
    rank = {f: r for r, f in enumerate(rng.permutation(k).tolist())}
    groups: list[list[int]] = [[] for _ in range(k)]
    for unit in order:
        target = min(range(k), key=lambda f: (len(groups[f]), rank[f]))
        groups[target].extend(unit)
    return groups


def fold_groups(
    recipe: Recipe, rng: np.random.Generator, samples: dict[int, frozenset[int]] | None = None
) -> list[dict]:
    """What each fold owns: accents and variants (keywords) or programs (pitch, instrument).

    pitch: programs that share a soundfont sample stay in one fold, so a held-out fold plays
    recordings never heard in training. instrument: every fold needs programs of every family,
    so only programs of one family that share samples stay together (split when a family would
    otherwise have fewer units than folds); sharing that remains across folds is listed in task.json.
    """
    k = recipe.folds
    if recipe.kind == "keywords":
        accents, _ = deal(ACCENTS, k, rng)
        male, turn = deal(MALE_VARIANTS, k, rng)
        female, _ = deal(FEMALE_VARIANTS, k, rng, start=turn)
        return [{"accents": sorted(a), "variants": sorted(m) + sorted(f)} for a, m, f in zip(accents, male, female)]
    if recipe.kind == "pitch":
        programs = [p for f in FAMILIES for p in FAMILIES[f][0]]
        return [{"programs": sorted(g)} for g in deal_units(sharing_units(programs, samples), k, rng)]
    groups: list[list[int]] = [[] for _ in range(k)]
    for family in recipe.classes:
        units = sharing_units(list(FAMILIES[family][0]), samples)
        while len(units) < k:
            units.sort(key=len)
            big = units.pop()
            units += [big[: len(big) // 2], big[len(big) // 2 :]]
        for mine, dealt in zip(groups, deal_units(units, k, rng)):
            mine.extend(dealt)
    return [{"programs": sorted(g)} for g in groups]


def shared_across_folds(groups: list[dict], samples: dict[int, frozenset[int]] | None) -> list[list[int]] | None:
    """Pairs of programs in different folds that play a common soundfont sample (None: unknown)."""
    if samples is None:
        return None
    fold = {p: f for f, g in enumerate(groups) for p in g["programs"]}
    progs = sorted(fold)
    return [
        [a, b]
        for i, a in enumerate(progs)
        for b in progs[i + 1 :]
        if fold[a] != fold[b] and samples.get(a, frozenset()) & samples.get(b, frozenset())
    ]


def max_folds(kind: str, classes: Sequence[str]) -> int:
    if kind == "keywords":
        return min(len(ACCENTS), len(MALE_VARIANTS) + len(FEMALE_VARIANTS))
    if kind == "instrument":
        return min(len(FAMILIES[c][0]) for c in classes)
    return MAX_PITCH_FOLDS


def family_of(program: int) -> str:
    return next(name for name, (programs, _) in FAMILIES.items() if program in programs)


def plan_clips(recipe: Recipe, noises: dict[str, int], rng: np.random.Generator, groups: list[dict]) -> list[dict]:
    """Every clip's parameters, drawn in a fixed order from `rng`. `noises`: bank name -> samples."""
    k, n = recipe.folds, recipe.samples
    names = sorted(noises)
    lo, hi = recipe.snr_db
    clips = []
    for target, category in enumerate(recipe.classes):
        for _ in range(recipe.per_class):
            index = len(clips)
            fold = index % k + 1
            own = groups[fold - 1]
            clip = {
                "filename": f"{fold}-{index:05d}-A-{target}.wav",
                "fold": fold,
                "target": target,
                "category": category,
            }
            if recipe.kind == "keywords":
                accent = own["accents"][rng.integers(len(own["accents"]))]
                variant = own["variants"][rng.integers(len(own["variants"]))]
                clip.update(
                    source=f"{accent}+{variant}",
                    word=category,
                    pitch=int(rng.integers(ESPEAK_PITCH[0], ESPEAK_PITCH[1] + 1)),
                    speed=int(rng.integers(ESPEAK_SPEED[0], ESPEAK_SPEED[1] + 1)),
                    onset=float(rng.random()),
                )
            else:
                programs = [p for p in own["programs"] if recipe.kind == "pitch" or family_of(p) == category]
                program = int(programs[rng.integers(len(programs))])
                if recipe.kind == "pitch":
                    low, high = FAMILIES[family_of(program)][1]
                    pc = PITCH_CLASSES.index(category)
                    notes = [m for m in range(low, high + 1) if m % 12 == pc]
                    note = int(notes[rng.integers(len(notes))])
                else:
                    low, high = FAMILIES[category][1]
                    note = int(rng.integers(low, high + 1))
                clip.update(
                    source=f"{program:03d} {GM_NAMES[program]}",
                    program=program,
                    note=note,
                    velocity=int(rng.integers(NOTE_VELOCITY[0], NOTE_VELOCITY[1] + 1)),
                    onset_s=round(float(rng.uniform(*NOTE_ONSET)) * recipe.duration, 4),
                    length_s=round(float(rng.uniform(*NOTE_LENGTH)) * recipe.duration, 4),
                )
            reverb = None
            if (
                rng.random() < REVERB_PROBABILITY
            ):  # sox reverb: reverberance %, HF damping %, room scale %, pre-delay ms
                reverb = [
                    int(rng.integers(10, 71)),
                    int(rng.integers(20, 81)),
                    int(rng.integers(20, 101)),
                    int(rng.integers(0, 21)),
                ]
            noise = names[rng.integers(len(names))]
            clip.update(
                reverb=reverb,
                noise=noise,
                noise_offset=int(rng.integers(0, noises[noise] - n + 1)),
                snr_db=round(float(rng.uniform(lo, hi)), 2) if math.isfinite(hi) else None,
                level_dbfs=round(float(rng.uniform(*LEVEL_DBFS)), 2),
            )
            clips.append(clip)
    return clips


# ---------------------------------------------------------------- rendering (one clip; runs in workers)


@dataclass(frozen=True)
class Context:
    tools: Tools
    kind: str
    duration: float
    samples: int
    noise_files: dict  # bank name -> float WAV path
    audio_dir: str
    parts_dir: str | None
    work_dir: str


_CTX: Context | None = None
_BANKS: dict[str, np.ndarray] = {}


def _init_worker(ctx: Context) -> None:
    global _CTX
    _CTX = ctx
    _BANKS.clear()


def _bank(name: str) -> np.ndarray:
    if name not in _BANKS:
        _BANKS[name] = read_mono(Path(_CTX.noise_files[name]))
    return _BANKS[name]


def reverb_args(clip: dict) -> list[str]:
    if not clip["reverb"]:
        return []
    reverberance, damping, room, predelay = clip["reverb"]
    return ["pad", "0", str(REVERB_TAIL_S), "reverb", str(reverberance), str(damping), str(room), "100", str(predelay)]


def fit(wave: np.ndarray, n: int, at: int = 0) -> np.ndarray:
    """`wave` placed at sample `at` of n zeros, cut at n."""
    out = np.zeros(n, dtype=np.float32)
    part = wave[: max(0, n - at)]
    out[at : at + len(part)] = part
    return out


def render_keyword(clip: dict, ctx: Context, work: Path) -> np.ndarray:
    raw, clean = work / "speech.wav", work / "clean.wav"
    run_tool(
        [
            ctx.tools.espeak,
            "-v",
            clip["source"],
            "-p",
            str(clip["pitch"]),
            "-s",
            str(clip["speed"]),
            "-w",
            str(raw),
            clip["word"],
        ]
    )
    run_tool(
        sox_cmd(
            ctx.tools,
            str(raw),
            "-b",
            "32",
            "-e",
            "floating-point",
            "-c",
            "1",
            str(clean),
            "rate",
            "-h",
            str(RATE),
            "silence",
            "1",
            "0.01",
            "0.05%",
            "reverse",
            "silence",
            "1",
            "0.01",
            "0.05%",
            "reverse",
            *reverb_args(clip),
        )
    )
    wave = read_mono(clean)
    dry = len(wave) - (int(REVERB_TAIL_S * RATE) if clip["reverb"] else 0)
    at = int(clip["onset"] * max(0, ctx.samples - dry))
    return fit(wave, ctx.samples, at)


def render_note(clip: dict, ctx: Context, work: Path) -> np.ndarray:
    """The note through fluidsynth. A soundfont may have no sample for a note at the edge of an
    instrument's range: then it is moved an octave toward middle C (same pitch class), and
    clip["note"] is updated."""
    midi, raw, clean = work / "note.mid", work / "note.wav", work / "clean.wav"
    for _ in range(4):
        midi.write_bytes(
            note_midi(clip["program"], clip["note"], clip["velocity"], clip["onset_s"], clip["length_s"], ctx.duration)
        )
        run_tool(
            [
                ctx.tools.fluidsynth,
                "-n",
                "-i",
                "-q",
                "-R",
                "0",
                "-C",
                "0",
                "-g",
                FLUIDSYNTH_GAIN,
                "-r",
                str(RATE),
                "-O",
                "float",
                "-T",
                "wav",
                "-F",
                str(raw),
                ctx.tools.soundfont,
                str(midi),
            ]
        )
        run_tool(
            sox_cmd(
                ctx.tools,
                str(raw),
                "-b",
                "32",
                "-e",
                "floating-point",
                str(clean),
                "remix",
                "-",
                *reverb_args(clip),
                "trim",
                "0",
                f"{ctx.samples}s",
            )
        )
        wave = fit(read_mono(clean), ctx.samples)
        if np.sqrt(np.mean(wave.astype(np.float64) ** 2)) > SILENT_RMS:
            break
        clip["note"] += -12 if clip["note"] >= 60 else 12
    return wave


def mix_gains(clean: np.ndarray, noise: np.ndarray, snr_db: float | None, level_dbfs: float) -> tuple[float, float]:
    """Gains (g_sound, g_noise) so that energy(g_sound*clean)/energy(g_noise*noise) is snr_db (None: no
    noise) and the mix's RMS is level_dbfs, lowered if its peak would pass PEAK."""
    e_clean = float(np.sum(clean.astype(np.float64) ** 2))
    e_noise = float(np.sum(noise.astype(np.float64) ** 2))
    if e_clean <= 0 or e_noise <= 0:
        raise ToolError("silent sound or noise: nothing to mix")
    b = 0.0 if snr_db is None else math.sqrt(e_clean / (e_noise * 10 ** (snr_db / 10)))
    mixed = clean.astype(np.float64) + b * noise
    g = 10 ** (level_dbfs / 20) / math.sqrt(float(np.mean(mixed**2)))
    g = min(g, PEAK / float(np.max(np.abs(mixed))))
    return g, g * b


def render_clip(clip: dict) -> tuple[str, dict]:
    """Render, mix and write one clip (in a worker); returns its file name and changed parameters."""
    ctx = _CTX
    work = Path(ctx.work_dir) / f"clip{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        render = render_keyword if ctx.kind == "keywords" else render_note
        clean = render(clip, ctx, work)
        if np.sqrt(np.mean(clean.astype(np.float64) ** 2)) <= SILENT_RMS:
            raise ToolError("the engine made silence")
        offset = clip["noise_offset"]
        noise = _bank(clip["noise"])[offset : offset + ctx.samples]
        g_sound, g_noise = mix_gains(clean, noise, clip["snr_db"], clip["level_dbfs"])
        sound_wav, noise_wav = work / "sound.wav", work / "noise.wav"
        sf.write(sound_wav, clean, RATE, subtype="FLOAT")
        sf.write(noise_wav, noise, RATE, subtype="FLOAT")
        out = Path(ctx.audio_dir) / clip["filename"]
        run_tool(
            sox_cmd(
                ctx.tools,
                "-m",
                "-v",
                f"{g_sound:.10g}",
                str(sound_wav),
                "-v",
                f"{g_noise:.10g}",
                str(noise_wav),
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(out),
            )
        )
        if ctx.parts_dir:
            stem = Path(clip["filename"]).stem
            sf.write(
                Path(ctx.parts_dir) / f"{stem}.sound.wav", (g_sound * clean).astype(np.float32), RATE, subtype="FLOAT"
            )
            sf.write(
                Path(ctx.parts_dir) / f"{stem}.noise.wav", (g_noise * noise).astype(np.float32), RATE, subtype="FLOAT"
            )
    except ToolError as err:
        raise ToolError(f"{clip['filename']} ({clip['source']}): {err}") from None
    return clip["filename"], {k: clip[k] for k in ("note",) if k in clip}


# ---------------------------------------------------------------- noise


def make_noise_banks(tools: Tools, folder: Path, noise_dir: str | None, samples: int) -> tuple[dict, dict]:
    """Noise banks as 16 kHz mono float WAVs in `folder`: name -> path, and a description for task.json."""
    folder.mkdir(parents=True)
    paths = {}
    if noise_dir is None:
        for name, args in NOISE_SYNTH.items():
            path = folder / f"{name}.wav"
            run_tool(
                sox_cmd(
                    tools,
                    "-n",
                    "-r",
                    str(RATE),
                    "-c",
                    "1",
                    "-b",
                    "32",
                    "-e",
                    "floating-point",
                    str(path),
                    "synth",
                    str(NOISE_BANK_S),
                    *args,
                )
            )
            paths[name] = path
        return paths, {
            "source": f"sox -R synth, {NOISE_BANK_S} s per bank",
            "banks": {k: " ".join(v) for k, v in NOISE_SYNTH.items()},
        }
    root = Path(noise_dir)
    if not root.is_dir():
        raise UserError(f"--noise-dir {noise_dir}: not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".wav", ".flac", ".ogg", ".aiff", ".aif"))
    described, short = {}, []
    for i, src in enumerate(files):
        path = folder / f"file{i:04d}.wav"
        try:
            run_tool(
                sox_cmd(
                    tools,
                    str(src),
                    "-r",
                    str(RATE),
                    "-c",
                    "1",
                    "-b",
                    "32",
                    "-e",
                    "floating-point",
                    str(path),
                    "remix",
                    "-",
                )
            )
        except ToolError as err:
            raise UserError(f"--noise-dir: cannot read {src} ({err})") from None
        length = sf.info(str(path)).frames
        if length < samples:
            short.append(src.name)
            continue
        name = str(src.relative_to(root))
        paths[name], described[name] = path, length
    if not paths:
        raise UserError(
            f"--noise-dir {noise_dir}: no audio file of at least {samples / RATE:g} s "
            f"({len(files)} found, {len(short)} too short)"
        )
    return paths, {"source": f"recordings from {root.resolve()}", "files": described, "too_short": short}


# ---------------------------------------------------------------- build


def parse_snr(text: str) -> tuple[float, float]:
    t = text.strip().lower()
    if t in ("inf", "none", "clean"):
        return math.inf, math.inf
    try:
        parts = [float(x) for x in t.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or not all(math.isfinite(p) for p in parts) or parts[0] > parts[1]:
        raise UserError(f"--snr-db {text!r}: expected LO,HI in dB (LO <= HI), one value, or 'inf' for no noise")
    return parts[0], parts[1]


def _render_all(clips: list[dict], ctx: Context, jobs: int, progress: Progress) -> None:
    """Render every clip (in `jobs` processes); parameters a worker changed are copied back."""
    by_name = {c["filename"]: c for c in clips}
    if jobs <= 1:
        _init_worker(ctx)
        results = map(render_clip, [dict(c) for c in clips])
        for name, changed in results:
            by_name[name].update(changed)
            progress.update(1)
        return
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker, initargs=(ctx,)) as pool:
        for name, changed in pool.imap_unordered(render_clip, clips, chunksize=4):
            by_name[name].update(changed)
            progress.update(1)


def build(
    kind: str,
    out: str | Path,
    per_class: int = 40,
    folds: int = 5,
    seed: int = 0,
    snr_db: tuple[float, float] = (0.0, 20.0),
    duration: float = 1.0,
    classes: Sequence[str] | None = None,
    jobs: int | None = None,
    overwrite: bool = False,
    soundfont: str | None = None,
    noise_dir: str | None = None,
    keep_parts: bool = False,
    quiet: bool = False,
) -> dict:
    """Build one task into `out` (ESC-50 layout + task.json); returns the task.json content."""
    began = time.perf_counter()
    if kind not in KINDS:
        raise UserError(f"unknown task kind {kind!r}; use one of {', '.join(KINDS)}")
    classes = tuple(classes) if classes else default_classes(kind)
    recipe = Recipe(kind, classes, per_class, folds, seed, tuple(snr_db), duration)
    if folds < 2:
        raise UserError(f"--folds {folds}: cross-validation needs at least 2 folds")
    if folds > max_folds(kind, classes):
        raise UserError(f"--folds {folds}: {kind} has sources for at most {max_folds(kind, classes)} disjoint folds")
    if per_class < folds:
        raise UserError(f"--per-class {per_class}: needs at least --folds ({folds}) so every fold holds every class")
    if not 0.3 <= duration <= 30:
        raise UserError(f"--duration {duration}: expected 0.3 to 30 seconds")
    tools = find_tools(kind, soundfont)
    out = Path(out).expanduser()
    if out.exists() and not (overwrite and out.is_dir()):
        raise UserError(f"{out} exists; pass --overwrite to replace it" if out.is_dir() else f"{out} is a file")
    jobs = max(1, min(jobs or 2, os.cpu_count() or 1))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_builds(out)  # the leftovers of builds killed by SIGKILL, which could not clean up
        tmp = out.parent / f".{out.name}.building-{socket.gethostname()}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "audio").mkdir(parents=True)
        (tmp / "meta").mkdir()
    except OSError as err:
        raise UserError(f"{out}: cannot create ({err.strerror})") from None
    try:
        work = tmp / ".work"
        bank_paths, noise_info = make_noise_banks(tools, work / "noise", noise_dir, recipe.samples)
        noises = {name: sf.info(str(p)).frames for name, p in bank_paths.items()}
        rng = np.random.default_rng(seed)
        samples = soundfont_samples(tools.soundfont) if tools.soundfont else None
        groups = fold_groups(recipe, rng, samples)
        if not all(g.get("programs", True) for g in groups):
            raise UserError(f"--folds {folds}: the soundfont's programs share samples too much for {folds} folds")
        clips = plan_clips(recipe, noises, rng, groups)
        parts = tmp / "parts" if keep_parts else None
        if parts:
            parts.mkdir()
        ctx = Context(
            tools,
            kind,
            duration,
            recipe.samples,
            {k: str(v) for k, v in bank_paths.items()},
            str(tmp / "audio"),
            str(parts) if parts else None,
            str(work),
        )
        progress = Progress(len(clips), f"{PROG} {kind}", unit="clips", stream=io.StringIO() if quiet else None)
        try:
            _render_all(clips, ctx, jobs, progress)
        except ToolError as err:
            raise UserError(f"an engine failed: {err}") from None
        progress.close()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["filename", "fold", "target", "category", "source", "snr_db"])
        for c in clips:
            snr = "inf" if c["snr_db"] is None else c["snr_db"]
            writer.writerow([c["filename"], c["fold"], c["target"], c["category"], c["source"], snr])
        (tmp / "meta" / "esc50.csv").write_text(buf.getvalue())
        info = {
            "kind": kind,
            "layout": "esc50",
            "classes": list(classes),
            "per_class": per_class,
            "folds": folds,
            "seed": seed,
            "sample_rate": RATE,
            "duration_s": duration,
            "samples": recipe.samples,
            "snr_db": list(snr_db) if math.isfinite(snr_db[0]) else None,
            "snr_definition": "energy of the sound / energy of the noise over the whole clip",
            "level_dbfs": list(LEVEL_DBFS),
            "peak_max": PEAK,
            "reverb": {
                "probability": REVERB_PROBABILITY,
                "sox": "pad 0 0.3 reverb REVERBERANCE HF-DAMPING ROOM-SCALE 100 PRE-DELAY",
            },
            "engines": engine_versions(tools),
            "debian_packages": sorted({PACKAGES[n] for n in NEEDS[kind]}),
            "noise": noise_info,
            "fold_sources": {str(f + 1): g for f, g in enumerate(groups)},
            "clips": [{k: v for k, v in c.items() if k not in ("fold", "target")} for c in clips],
        }
        if kind == "keywords":
            info["espeak"] = {"pitch": list(ESPEAK_PITCH), "speed_wpm": list(ESPEAK_SPEED), "voice": "ACCENT+VARIANT"}
        else:
            info["fluidsynth"] = {
                "gain": float(FLUIDSYNTH_GAIN),
                "reverb": False,
                "chorus": False,
                "families": {f: [list(FAMILIES[f][0]), list(FAMILIES[f][1])] for f in FAMILIES},
                "note_onset": list(NOTE_ONSET),
                "note_length": list(NOTE_LENGTH),
                "velocity": list(NOTE_VELOCITY),
            }
            shared = shared_across_folds(groups, samples)
            info["soundfont_sharing"] = {
                "parsed": samples is not None,
                "rule": "pitch: programs that play a common sample share a fold; instrument: within a family",
                "pairs_across_folds": None
                if shared is None
                else [f"{a:03d} {GM_NAMES[a]} / {b:03d} {GM_NAMES[b]}" for a, b in shared],
            }
            for g in info["fold_sources"].values():
                g["programs"] = [f"{p:03d} {GM_NAMES[p]} ({family_of(p)})" for p in g["programs"]]
        (tmp / "task.json").write_text(json.dumps(info, indent=1, allow_nan=False) + "\n")
        shutil.rmtree(work)
        if out.exists():
            old = out.parent / f".{out.name}.old-{socket.gethostname()}-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    seconds = time.perf_counter() - began
    sources = len({c["source"] for c in clips})
    snr = "no noise" if math.isinf(snr_db[0]) else f"SNR {snr_db[0]:g} to {snr_db[1]:g} dB"
    if not quiet:
        print(
            f"built {kind}: {len(clips)} clips, {len(classes)} classes x {per_class}, {folds} folds by "
            f"{'voice' if kind == 'keywords' else 'instrument'} ({sources} sources), {snr}, "
            f"{duration:g} s at {RATE} Hz in {format_seconds(seconds)} ({len(clips) / seconds:.1f} clips/s) -> {out}",
            flush=True,
        )
    return info


# ---------------------------------------------------------------- CLI


@dataclass
class BuildSettings:
    kind: str = option("", f"the task: {' | '.join(KINDS)}", positional=True)
    out: str = option("", "output folder (refused if it exists, unless --overwrite)")
    per_class: int = option(40, "clips per class")
    folds: int = option(5, "folds, each with its own voices/instruments")
    seed: int = option(0, "the same seed gives the same bytes")
    snr_db: str = option("0,20", "LO,HI: SNR drawn uniformly per clip; 'inf': no noise")
    duration: float = option(1.0, "seconds per clip")
    classes: str = option("", "comma-separated class names, or N for the first N (default '': all)")
    jobs: int = option(2, "worker processes")
    soundfont: str = option("", "General-MIDI .sf2/.sf3 ('': the first of " + ", ".join(SOUNDFONTS) + ")")
    noise_dir: str = option("", "mix recordings from this folder (>= --duration each) instead of sox noise")
    keep_parts: bool = option(False, "also write each clip's scaled sound and noise to DIR/parts/")
    overwrite: bool = option(False, "replace an existing DIR")


@dataclass
class BaselineSettings:
    task_dir: str = option("", "a task folder (ESC-50 layout)", positional=True)
    folds: int = option(0, "folds (0 = the task's own)")
    seed: int = option(0, "seed for folds when the task has none")
    mel_bins: int = option(64, "mel bins")


def validate(cfg: BuildSettings | BaselineSettings) -> BuildSettings | BaselineSettings:
    """What build() and logmel_logreg() do not check before they look up the kind or the folder."""
    if isinstance(cfg, BuildSettings) and cfg.kind not in KINDS:
        raise UserError(f"build: unknown task kind {cfg.kind!r}; use one of {', '.join(KINDS)}")
    if isinstance(cfg, BuildSettings) and not cfg.out:
        raise UserError("build: give --out DIR")
    if isinstance(cfg, BaselineSettings) and not cfg.task_dir:
        raise UserError("baseline: give the task folder")
    return cfg


COMMANDS = {
    "build": (BuildSettings, "build a task"),
    "baseline": (BaselineSettings, "log-mel statistics + logistic regression, leave-one-fold-out"),
}


def _parser() -> Parser:
    parser = Parser(
        prog=PROG,
        allow_abbrev=False,
        description="Build small audio classification tasks (ESC-50 layout) from espeak-ng, "
        "fluidsynth and sox, or score the log-mel + logistic-regression baseline on one.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (cls, text) in COMMANDS.items():
        add_settings(sub.add_parser(name, help=text, description=text, allow_abbrev=False), cls)
    return parser


def _main(argv: Sequence[str] | None) -> None:
    args = vars(_parser().parse_args(argv))
    cfg = validate(settings_from_args(COMMANDS[args["command"]][0], args))
    if isinstance(cfg, BuildSettings):
        build(
            cfg.kind,
            cfg.out,
            per_class=cfg.per_class,
            folds=cfg.folds,
            seed=cfg.seed,
            snr_db=parse_snr(cfg.snr_db),
            duration=cfg.duration,
            classes=pick_classes(cfg.kind, cfg.classes),
            jobs=cfg.jobs,
            overwrite=cfg.overwrite,
            soundfont=cfg.soundfont or None,
            noise_dir=cfg.noise_dir or None,
            keep_parts=cfg.keep_parts,
        )
    else:
        from synpat.audio.baseline import logmel_logreg

        result = logmel_logreg(cfg.task_dir, folds=cfg.folds or None, seed=cfg.seed, mel_bins=cfg.mel_bins)
        print(json.dumps(result), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run_cli(PROG, _main, argv)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

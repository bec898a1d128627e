"""Labelled audio collections on disk and their folds.

A spec string names the layout and where it is:
  esc50:ROOT           ROOT/audio/*.wav + ROOT/meta/esc50.csv (filename,fold,target,category,...)
  speechcommands:ROOT  ROOT/<word>/*.wav, validation_list.txt, testing_list.txt (official split;
                       _background_noise_ excluded)
  folder:ROOT          ROOT/<class>/<clip>.{wav,flac,ogg,aiff}
  csv:FILE             rows `path,label[,fold]` (optional header `path,label[,fold]`), paths relative
                       to FILE's folder; several labels separated by ';' or '|' make it multi-label
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from synpat.core.errors import UserError

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")
LAYOUTS = ("esc50", "speechcommands", "folder", "csv")


@dataclass(frozen=True)
class Clip:
    """One labelled file; `fold` (1-based) or `split` ('train'|'valid'|'test') when the dataset defines them;
    `group`: the recording, voice or instrument it comes from, where the listing names one (GROUP_COLUMNS)."""

    path: Path
    labels: tuple[str, ...]
    fold: int | None = None
    split: str | None = None
    group: str | None = None


@dataclass
class AudioTask:
    """Clips of one dataset with its class names (index = class id)."""

    spec: str
    clips: list[Clip]
    classes: list[str]

    @property
    def multilabel(self) -> bool:
        return any(len(c.labels) > 1 for c in self.clips)

    @property
    def has_split(self) -> bool:
        return any(c.split is not None for c in self.clips)

    @property
    def dataset_folds(self) -> list[int]:
        return sorted({c.fold for c in self.clips if c.fold is not None})


def _require_dir(root: Path, what: str) -> None:
    if not root.is_dir():
        raise UserError(f"{what} root {root} is not a folder")


def _task(spec: str, clips: list[Clip], classes: list[str] | None = None) -> AudioTask:
    if not clips:
        raise UserError(f"{spec}: no audio clips found")
    names = classes or sorted({label for c in clips for label in c.labels})
    return AudioTask(spec=spec, clips=clips, classes=names)


# esc50 layout: the column naming each clip's source (ESC-50's own: src_file; synpat-audio-tasks: source), the
# first that names one
GROUP_COLUMNS = ("src_file", "source")


def load_esc50(root: Path, spec: str) -> AudioTask:
    _require_dir(root, "esc50")
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise UserError(f"{meta} not found (esc50 layout: ROOT/audio/*.wav + ROOT/meta/esc50.csv)")
    names = {}
    with meta.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's "CSV UTF-8" starts with a BOM
        reader = csv.DictReader(fh)
        missing = {"filename", "fold", "target", "category"} - set(reader.fieldnames or [])
        if missing:
            raise UserError(f"{meta} lacks columns {sorted(missing)}")
        columns = [c for c in GROUP_COLUMNS if c in reader.fieldnames]
        rows = []  # (path, category, fold, {group column: its stripped value})
        for row in reader:
            try:
                fold, target = int(row["fold"]), int(row["target"])
            except ValueError:
                raise UserError(f"{meta} line {reader.line_num}: fold/target must be integers") from None
            names[target] = row["category"]
            groups = {c: (row[c] or "").strip() for c in columns}
            rows.append((root / "audio" / row["filename"], row["category"], fold, groups))
    # the first group column that names a source anywhere: a blank src_file column beside a filled source one
    # leaves the choice to source
    column = next((c for c in columns if any(g[c] for *_, g in rows)), None)
    clips = [Clip(path, (category,), fold=fold, group=g.get(column) or None) for path, category, fold, g in rows]
    classes = [names[t] for t in sorted(names)]
    return _task(spec, clips, classes)


def load_speechcommands(root: Path, spec: str) -> AudioTask:
    _require_dir(root, "speechcommands")

    def listed(name: str) -> set[str]:
        path = root / name
        if not path.is_file():
            raise UserError(f"{path} not found (speechcommands layout needs it)")
        return {line.strip() for line in path.read_text().splitlines() if line.strip()}

    valid, test = listed("validation_list.txt"), listed("testing_list.txt")
    clips = []
    for word_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")):
        for wav in sorted(word_dir.glob("*.wav")):
            rel = f"{word_dir.name}/{wav.name}"
            split = "valid" if rel in valid else "test" if rel in test else "train"
            clips.append(Clip(wav, (word_dir.name,), split=split))
    return _task(spec, clips)


def load_folder(root: Path, spec: str) -> AudioTask:
    _require_dir(root, "folder")
    clips = [
        Clip(path, (class_dir.name,))
        for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
        for path in sorted(class_dir.iterdir())
        if path.suffix.lower() in AUDIO_SUFFIXES
    ]
    return _task(spec, clips)


def load_csv(file: Path, spec: str) -> AudioTask:
    if not file.is_file():
        raise UserError(f"csv list {file} not found")
    clips = []
    with file.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's "CSV UTF-8" starts with a BOM
        for line_no, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not any(cells) or (line_no == 1 and cells[0].lower() == "path"):
                continue
            if len(cells) not in (2, 3) or not cells[0] or not cells[1]:
                raise UserError(f"{file} line {line_no}: expected path,label[,fold]")
            labels = tuple(sorted({x.strip() for x in cells[1].replace("|", ";").split(";") if x.strip()}))
            fold = None
            if len(cells) == 3 and cells[2]:
                if not cells[2].isdigit():
                    raise UserError(f"{file} line {line_no}: fold {cells[2]!r} is not a positive integer")
                fold = int(cells[2])
            clips.append(Clip(file.parent / cells[0], labels, fold=fold))
    if len({c.fold is None for c in clips}) > 1:
        raise UserError(f"{file}: give a fold on every row or on none")
    return _task(spec, clips)


def _text_problem(file: Path, err: Exception) -> UserError:
    """A listing that is not UTF-8 CSV text (UTF-16, binary, NUL bytes) -> one line naming it."""
    why = "not UTF-8 text" if isinstance(err, UnicodeDecodeError) else f"not CSV text ({err})"
    return UserError(f"{file}: {why}; expected a UTF-8 CSV file (a spreadsheet's \"CSV UTF-8\")")


def load_task(spec: str) -> AudioTask:
    """Parse `layout:PATH` and list its clips; UserError for an unknown layout or missing files."""
    layout, sep, where = spec.partition(":")
    if not sep or not where:
        raise UserError(f"data spec {spec!r} must be LAYOUT:PATH with LAYOUT one of {', '.join(LAYOUTS)}")
    loaders = {"esc50": load_esc50, "speechcommands": load_speechcommands, "folder": load_folder, "csv": load_csv}
    if layout not in loaders:
        raise UserError(f"unknown data layout {layout!r} in {spec!r}; use one of {', '.join(LAYOUTS)}")
    path = Path(where).expanduser()
    try:
        return loaders[layout](path, spec)
    except (UnicodeDecodeError, csv.Error) as err:
        listing = path / "meta" / "esc50.csv" if layout == "esc50" else path
        raise _text_problem(listing, err) from None


def assign_folds(task: AudioTask, k: int, seed: int) -> list[int]:
    """Fold id (1..k) of every clip: the dataset's own folds when it has exactly k of them,
    otherwise deterministic stratified folds (by first label; per class, clips in path order are
    shuffled with `seed` and dealt round-robin, continuing where the previous class stopped)."""
    own = task.dataset_folds
    if own:
        if len(own) != k:
            raise UserError(f"{task.spec} defines {len(own)} folds ({own}); use --folds {len(own)}")
        index = {fold: i + 1 for i, fold in enumerate(own)}
        return [index[c.fold] for c in task.clips]
    if k < 2:
        raise UserError(f"--folds {k}: cross-validation needs at least 2 folds")
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, clip in enumerate(task.clips):
        by_class[clip.labels[0]].append(i)
    rng = random.Random(seed)
    folds, turn = [0] * len(task.clips), 0
    for label in sorted(by_class):
        members = sorted(by_class[label], key=lambda i: str(task.clips[i].path))
        rng.shuffle(members)
        for i in members:
            folds[i] = turn % k + 1
            turn += 1
    return folds

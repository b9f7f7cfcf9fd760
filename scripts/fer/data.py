"""FER-2013 loading in both published formats, and the preprocessing contract shared with TypeScript.

Preprocessing contract (src/inference/preprocess.ts implements the same steps):
  1. decode the image; RGB(A) becomes grayscale with ITU-R 601 integer luma, exactly as PIL's "L" mode:
     L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16
  2. if it is not 48x48, resize with exact area averaging (each output pixel is the overlap-weighted mean of the
     source pixels it covers), computed in float64, then rounded half-up to uint8
  3. scale to float32 in [0, 1] by dividing by 255
"""
from __future__ import annotations

import csv
import io
import json
import lzma
import math
import os
import sys
from dataclasses import dataclass, field

import numpy as np

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
USAGES = ["Training", "PublicTest", "PrivateTest"]
SIZE = 48
IMAGE_EXTS = (".jpg", ".jpeg", ".png")


class DataError(Exception):
    pass


@dataclass
class LoadReport:
    skipped: int = 0
    problems: list = field(default_factory=list)

    def problem(self, message: str, strict: bool) -> None:
        if strict:
            raise DataError(message)
        self.skipped += 1
        if len(self.problems) < 20:
            self.problems.append(message)
        print(f"warning: {message} (skipped)", file=sys.stderr)


def to_gray(img) -> np.ndarray:
    """PIL image -> uint8 HxW grayscale using the contract's integer luma."""
    if img.mode in ("L", "I;16", "I", "F"):
        a = np.asarray(img.convert("L") if img.mode != "L" else img, dtype=np.uint8)
        return a
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint32)
    y = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    return y.astype(np.uint8)


def _area_weights(src: int, dst: int) -> np.ndarray:
    """dst x src matrix of overlap weights (rows sum to 1)."""
    w = np.zeros((dst, src), dtype=np.float64)
    scale = src / dst
    for o in range(dst):
        start, end = o * scale, (o + 1) * scale
        i = int(math.floor(start))
        while i < end and i < src:
            overlap = min(end, i + 1) - max(start, i)
            if overlap > 0:
                w[o, i] = overlap / scale
            i += 1
    return w


def area_resize(gray: np.ndarray, width: int = SIZE, height: int = SIZE) -> np.ndarray:
    h, w = gray.shape
    if (h, w) == (height, width):
        return gray
    out = _area_weights(h, height) @ gray.astype(np.float64) @ _area_weights(w, width).T
    return np.floor(out + 0.5).clip(0, 255).astype(np.uint8)


def load_image(path: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        return area_resize(to_gray(img))


def load_folder(root: str, strict: bool = False, report: LoadReport | None = None):
    """<root>/<label>/*.{jpg,png} -> (uint8 N x 48 x 48, int64 labels)."""
    report = report or LoadReport()
    if not os.path.isdir(root):
        raise DataError(f"{root}: not a folder")
    present = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not present:
        raise DataError(f"{root}: no label folders (expected {', '.join(LABELS)})")
    images, labels = [], []
    for name in present:
        if name not in LABELS:
            report.problem(f"{os.path.join(root, name)}: unknown label folder '{name}'", strict)
            continue
        folder = os.path.join(root, name)
        for file in sorted(os.listdir(folder)):
            path = os.path.join(folder, file)
            if not file.lower().endswith(IMAGE_EXTS):
                report.problem(f"{path}: not an image file (expected .jpg or .png)", strict)
                continue
            try:
                images.append(load_image(path))
                labels.append(LABELS.index(name))
            except Exception as exc:  # PIL raises several types for bad files
                report.problem(f"{path}: unreadable image ({exc.__class__.__name__}: {exc})", strict)
    if not images:
        raise DataError(f"{root}: no images found")
    return np.stack(images), np.asarray(labels, dtype=np.int64), report


def load_csv(path: str, usage: str | None = None, strict: bool = False, report: LoadReport | None = None):
    """Kaggle fer2013.csv (emotion,pixels,Usage) -> (uint8 N x 48 x 48, int64 labels)."""
    report = report or LoadReport()
    if usage is not None and usage not in USAGES:
        raise DataError(f"unknown usage '{usage}' (expected one of {', '.join(USAGES)})")
    images, labels = [], []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file")
        header = [h.strip() for h in header]
        for col in ("emotion", "pixels"):
            if col not in header:
                raise DataError(f"{path}:1: missing column '{col}' (header is {','.join(header)})")
        ie, ip = header.index("emotion"), header.index("pixels")
        iu = header.index("Usage") if "Usage" in header else None
        if usage is not None and iu is None:
            raise DataError(f"{path}:1: missing column 'Usage' needed to select {usage}")
        for n, row in enumerate(reader, start=2):
            if not row:
                continue
            where = f"{path}:{n}"
            if len(row) < len(header):
                report.problem(f"{where}: expected {len(header)} fields, got {len(row)}", strict)
                continue
            if iu is not None and row[iu].strip() not in USAGES:
                report.problem(f"{where}: unknown Usage '{row[iu]}'", strict)
                continue
            if usage is not None and row[iu].strip() != usage:
                continue
            try:
                label = int(row[ie])
            except ValueError:
                label = -1
            if not 0 <= label < len(LABELS):
                report.problem(f"{where}: unknown emotion label '{row[ie]}' (expected 0..6)", strict)
                continue
            parts = row[ip].split()
            if len(parts) != SIZE * SIZE:
                report.problem(f"{where}: expected {SIZE * SIZE} pixels, got {len(parts)}", strict)
                continue
            try:
                px = np.asarray([int(p) for p in parts], dtype=np.int64)
            except ValueError:
                report.problem(f"{where}: pixels must be integers 0..255", strict)
                continue
            if px.min() < 0 or px.max() > 255:
                report.problem(f"{where}: pixels must be integers 0..255", strict)
                continue
            images.append(px.astype(np.uint8).reshape(SIZE, SIZE))
            labels.append(label)
    if not images:
        raise DataError(f"{path}: no usable rows" + (f" with Usage={usage}" if usage else ""))
    return np.stack(images), np.asarray(labels, dtype=np.int64), report


def split_indices(labels: np.ndarray, fraction: float, seed: int):
    """Seeded, stratified validation slice: per class, round(count * fraction) indices go to validation.

    Returns (train, val) as sorted int64 index arrays that partition range(len(labels)). train.py holds out the
    slice; export.py recomputes it from the checkpoint's seed so the replay set never contains a validation face.
    """
    rng = np.random.default_rng(seed)
    val = []
    for c in range(len(LABELS)):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        val.extend(idx[: int(round(len(idx) * fraction))])
    val = np.sort(np.asarray(val, dtype=np.int64))
    mask = np.ones(len(labels), dtype=bool)
    mask[val] = False
    return np.flatnonzero(mask), val


# ---- packed datasets: one file (scripts/fer/packed.py writes them) ----------------------------------------------

PACKED_SUFFIXES = (".npz", ".npz.xz")


def is_packed(path: str) -> bool:
    return path.lower().endswith(PACKED_SUFFIXES)


def load_packed(path: str):
    """-> (uint8 N x 48 x 48, int64 labels); DataError for anything else."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            data = f.read()
        if path.lower().endswith(".xz"):
            data = lzma.decompress(data)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            images, labels = z["images"], z["labels"]
    except (OSError, ValueError, KeyError, lzma.LZMAError, EOFError) as exc:
        raise DataError(f"{path}: not a packed dataset ({exc.__class__.__name__}: {exc})") from exc
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (SIZE, SIZE):
        raise DataError(f"{path}: images must be uint8 N x {SIZE} x {SIZE}, got {images.dtype} {images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels must be {len(images)} integers, got {labels.dtype} {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(LABELS)):
        raise DataError(f"{path}: labels must be 0..{len(LABELS) - 1}")
    if len(images) == 0:
        raise DataError(f"{path}: no images")
    return images, labels.astype(np.int64)


# ---- levelled faces (scripts/align-fer.ts) ---------------------------------------------------------------------------

LEVEL_REPORT = "align-report.json"


def is_levelled(source: str) -> bool:
    """A folder written by scripts/align-fer.ts (faces with their eyes levelled): a model trained on it must be served
    with the levelled crop (models/manifest.json general.crop.levelEyes)."""
    return os.path.isdir(source) and os.path.isfile(os.path.join(source, LEVEL_REPORT))


def level_passes(source: str) -> int:
    """How many passes scripts/align-fer.ts levelled a folder's faces with (0: not levelled; reports from before
    --passes existed were one pass). `npm run evaluate` levels a test set the same way for the exported model."""
    if not is_levelled(source):
        return 0
    with open(os.path.join(source, LEVEL_REPORT)) as f:
        return int(json.load(f).get("passes", 1))


def levelling_mismatch(recorded: dict, source: str) -> str | None:
    """Why the faces in `source` are not the kind a run recorded in its args (levelled or not, in how many passes), as
    "was trained on …; <source> holds …"; None when they are. A run, its resume, a phase started from it and its export
    stay on one kind: another kind is another crop contract. Runs from before session 17 record neither, those of
    session 17 only `levelled`: the folder decides what they do not record."""
    levelled = is_levelled(source)
    if recorded.get("levelled", levelled) != levelled:
        kind = lambda v: "levelled faces (scripts/align-fer.ts)" if v else "unlevelled faces"  # noqa: E731
        return f"was trained on {kind(recorded['levelled'])}; {source} holds {kind(levelled)}"
    passes = level_passes(source)
    if recorded.get("level_passes", passes) != passes:
        return f"was trained on faces levelled in {recorded['level_passes']} pass(es); {source} holds faces levelled in {passes}"
    return None


def load(source: str, usage: str | None = None, strict: bool = False):
    """A CSV file, a split folder, or a packed dataset (.npz / .npz.xz, scripts/fer/packed.py)."""
    if os.path.isfile(source) and source.lower().endswith(".csv"):
        return load_csv(source, usage=usage, strict=strict)
    if os.path.isdir(source):
        return load_folder(source, strict=strict)
    if is_packed(source):  # one split, like a folder: `usage` is a CSV's
        images, labels = load_packed(source)
        return images, labels, LoadReport()
    raise DataError(f"{source}: not a .csv file, a folder or a packed .npz / .npz.xz")


def limit_rows(images: np.ndarray, labels: np.ndarray, limit: int | None, seed: int):
    """train.py --limit N: the same N seeded rows wherever a run's data is read again (training, export, analysis)."""
    if not limit:
        return images, labels
    keep = np.sort(np.random.default_rng(seed).permutation(len(labels))[:limit])
    return images[keep], labels[keep]


def run_rows(source: str, run_args: dict):
    """A finished run's faces as it trained on them, from its checkpoint's args: (images, labels, train idx, val idx)."""
    images, labels, _ = load(source, usage=run_args.get("usage"), strict=False)
    images, labels = limit_rows(images, labels, run_args.get("limit"), run_args["seed"])
    tr, va = split_indices(labels, run_args["val_fraction"], run_args.get("split_seed", run_args["seed"]))
    return images, labels, tr, va

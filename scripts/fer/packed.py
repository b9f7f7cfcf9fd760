"""A dataset in one file: uint8 faces and int64 labels as an .npz, optionally lzma-compressed (.npz.xz).

Why: a GPU machine gets only what travels with the working tree (64 MiB in all; ../shared stays behind), and
FER-2013's 28,709 training faces are 54 MB of PNGs, 60 MiB as a compressed .npz and 49 MiB as .npz.xz
(docs/MODEL.md, "Next"). Reading is fer/data.py's (`load` takes a packed file like a folder; `load_packed`): the
same arrays the folder loader gives, checked like them.

    /usr/bin/python3 scripts/fer/packed.py ../shared/datasets/fer2013/train .gpu/fer-train.npz.xz
"""
from __future__ import annotations

import io
import lzma
import os
import sys

import numpy as np

if __package__ in (None, ""):  # run as a script: make `fer` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import DataError, is_packed  # noqa: E402


def save_packed(images: np.ndarray, labels: np.ndarray, path: str) -> None:
    """Written to a temporary file and renamed: a stopped run never leaves half a dataset."""
    if not is_packed(path):
        raise DataError(f"{path}: a packed dataset ends in .npz or .npz.xz")
    buf = io.BytesIO()
    np.savez(buf, images=np.ascontiguousarray(images, dtype=np.uint8), labels=np.asarray(labels, dtype=np.int64))
    data = buf.getvalue()
    if path.lower().endswith(".xz"):
        data = lzma.compress(data, preset=6)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv=None) -> int:
    import argparse

    from fer.data import load

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", help="a split folder (<label>/*.png) or a FER-2013 CSV")
    ap.add_argument("out", help="the packed file: .npz (zip-compressed) or .npz.xz (lzma, smaller, slower to write)")
    ap.add_argument("--usage", help="with a CSV: Training, PublicTest or PrivateTest")
    a = ap.parse_args(argv)
    try:
        images, labels, report = load(a.source, usage=a.usage)
        save_packed(images, labels, a.out)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(labels)} faces -> {a.out} ({os.path.getsize(a.out) / 2**20:.1f} MiB)"
          + (f"; skipped {report.skipped} bad rows/files" if report.skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

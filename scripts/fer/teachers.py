"""Distillation's soft targets: the averaged probabilities of teacher networks on each face and on its mirror.

A teacher is a training checkpoint (its best weights are run here) or a **soft-target file** written by
scripts/soft_targets.py: the same probabilities computed once, elsewhere (a GPU machine, or an earlier run), for every
face of a dataset, keyed by the sha1 of the face's 48x48 pixels. Keys, not row numbers, so a file fits any loading
of the same faces (folder, CSV or packed; --limit; any order) and refuses faces it has not seen. Every entry of
--teachers counts once in the average, a file as much as a checkpoint.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np
import torch

from fer.data import LABELS, DataError
from fer.model import build_model


def face_keys(images: np.ndarray) -> np.ndarray:
    """uint8 N x 48 x 48 -> N x 20 uint8: the sha1 of each face's pixels."""
    faces = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    return np.frombuffer(b"".join(hashlib.sha1(f.tobytes()).digest() for f in faces), dtype=np.uint8).reshape(-1, 20)


@torch.no_grad()
def checkpoint_probs(path: str, x: torch.Tensor, device, use_bf16: bool, batch: int = 512):
    """Softmax of a checkpoint's best weights on x (float N x 1 x 48 x 48) and on its mirror: two [N,7] tensors."""
    ck = torch.load(path, map_location=device)
    m = build_model(ck["args"].get("arch", "seed")).to(device).to(memory_format=torch.channels_last)
    m.load_state_dict(ck["best"]["state"])
    m.eval()
    plain = torch.zeros(len(x), len(LABELS))
    mirror = torch.zeros(len(x), len(LABELS))
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(device).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            plain[i:i + batch] = m(xb).float().softmax(1).cpu()
            mirror[i:i + batch] = m(torch.flip(xb, [3])).float().softmax(1).cpu()
    return plain, mirror


def save_soft_targets(path: str, keys: np.ndarray, plain: torch.Tensor, mirror: torch.Tensor, teachers: list[str]) -> None:
    """float16 probabilities (1.6 MB for FER-2013's training set); temporary file, then rename."""
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, keys=keys, plain=plain.numpy().astype(np.float16),
                        mirror=mirror.numpy().astype(np.float16), teachers=np.array(teachers))
    os.replace(tmp, path)


def file_probs(path: str, keys: np.ndarray):
    """The rows of a soft-target file for these faces (by key): two [N,7] tensors; DataError if any face is missing."""
    try:
        with np.load(path, allow_pickle=False) as z:
            file_keys, plain, mirror = z["keys"], z["plain"], z["mirror"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: not a soft-target file ({exc.__class__.__name__}: {exc})") from exc
    if file_keys.ndim != 2 or file_keys.shape[1] != 20 or plain.shape != (len(file_keys), len(LABELS)) or plain.shape != mirror.shape:
        raise DataError(f"{path}: not a soft-target file (keys {file_keys.shape}, plain {plain.shape}, mirror {mirror.shape})")
    index = {k.tobytes(): i for i, k in enumerate(file_keys)}
    rows = np.array([index.get(k.tobytes(), -1) for k in keys], dtype=np.int64)
    missing = int((rows < 0).sum())
    if missing:
        raise DataError(f"{path}: {missing} of {len(keys)} faces have no soft targets (made for other data?)")
    return torch.from_numpy(plain[rows].astype(np.float32)), torch.from_numpy(mirror[rows].astype(np.float32))


def teacher_probs(paths: list[str], x: torch.Tensor, images: np.ndarray, device, use_bf16: bool):
    """Average of the teachers' probabilities on x (the float faces) and on its mirror: two [N,7] tensors.
    `images` are the same faces as uint8 (the keys for soft-target files)."""
    plain = torch.zeros(len(x), len(LABELS))
    mirror = torch.zeros(len(x), len(LABELS))
    keys = None
    for path in paths:
        if path.lower().endswith(".npz"):
            keys = face_keys(images) if keys is None else keys
            p, m = file_probs(path, keys)
        else:
            p, m = checkpoint_probs(path, x, device, use_bf16)
        plain += p
        mirror += m
    return plain / len(paths), mirror / len(paths)

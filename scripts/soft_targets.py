"""Write a soft-target file: the averaged probabilities of teacher checkpoints on every face of a dataset and on its
mirror, keyed by each face's pixels (scripts/fer/teachers.py). `train.py --teachers FILE.npz` then distils from it
without the teachers: computed once on a GPU machine (docs/MODEL.md, "Next"), or reused across student runs instead
of re-running four teachers for each.

    /usr/bin/python3 scripts/soft_targets.py --teachers RUN/checkpoint.pt[,...] --data ../shared/datasets/fer2013/train \\
        --out targets.npz [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fer.data import DataError, load  # noqa: E402
from fer.teachers import face_keys, save_soft_targets, teacher_probs  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--teachers", required=True, help="comma-separated training checkpoints (their best weights)")
    ap.add_argument("--data", required=True, help="a split folder, a FER-2013 CSV or a packed .npz / .npz.xz")
    ap.add_argument("--usage", help="with a CSV: Training, PublicTest or PrivateTest")
    ap.add_argument("--out", required=True, help="the soft-target file to write (.npz)")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args(argv)
    if not a.out.lower().endswith(".npz"):
        print("error: --out must end in .npz", file=sys.stderr)
        return 2
    teachers = [t for t in a.teachers.split(",") if t]
    for t in teachers:
        if t.lower().endswith(".npz") or not os.path.isfile(t):
            print(f"error: {t}: not a training checkpoint", file=sys.stderr)
            return 2
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        images, labels, _ = load(a.data, usage=a.usage)
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.time()
    x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    plain, mirror = teacher_probs(teachers, x, images, device, use_bf16=False)
    save_soft_targets(a.out, face_keys(images), plain, mirror, teachers)
    y = torch.from_numpy(labels)
    acc = (plain.argmax(1) == y).float().mean().item()
    both = ((plain + mirror).argmax(1) == y).float().mean().item()
    print(f"{len(labels)} faces, {len(teachers)} teacher(s) on {device} in {time.time() - t0:.0f}s -> {a.out} "
          f"({os.path.getsize(a.out) / 2**20:.1f} MiB); teachers' accuracy on this data {acc:.4f} "
          f"(with the mirror {both:.4f}; training faces included, so not a validation figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

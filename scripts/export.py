#!/usr/bin/env python3
"""Export a trained run to ONNX: the full model, the conv trunk and the FC head separately, the head's raw weights and
a replay set of general training features for personal fine-tuning, plus models/manifest.json.

  python3 scripts/export.py --run runs/general --data ../shared/datasets/fer2013/train --out models/general
  python3 scripts/export.py --run runs/general --data ... --out models/general --metrics publicTest eval.json

Files written to --out (each written to a temp name and renamed, so a crash never leaves half a model):
  expression.onnx  input [N,1,48,48] float32 0..1 -> logits [N,7]
  trunk.onnx       input -> features [N,2048]
  head.onnx        features -> logits
  head.f32         fc1.weight [1024,2048], fc1.bias [1024], fc2.weight [7,1024], fc2.bias [7]; float32 little-endian
  replay.f32       trunk features [count,2048] of a class-stratified sample of TRAINING faces (not the validation slice)
  replay.json      {"count", "featureSize", "labels": [...], "perClass": {...}}
  expression.head-layout.json
                   byte ranges of the head's initializers inside expression.onnx (scripts/fer/onnx_layout.py): the
                   server writes a user's head over them to export a personal model
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fer.data import LABELS  # noqa: E402
from fer.model import ExpressionNet, build_model, count_macs, describe  # noqa: E402
from fer.onnx_layout import write_head_layout  # noqa: E402

OPSET = 17


def _replace(tmp: str, path: str) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _onnx(module, example, path, input_name, output_name):
    tmp = path + ".tmp"
    torch.onnx.export(module, example, tmp, input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}}, opset_version=OPSET,
                      do_constant_folding=True)
    _replace(tmp, path)


def _raw(path: str, arrays) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    _replace(tmp, path)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@torch.no_grad()
def export_all(model: ExpressionNet, out: str, train_x, train_y, history, best, args, replay_per_class=100, seed=1337,
               level_passes: int = 0):
    os.makedirs(out, exist_ok=True)
    model = model.cpu().float().to(memory_format=torch.contiguous_format).eval()
    x = torch.zeros(2, 1, 48, 48)
    _onnx(model, x, os.path.join(out, "expression.onnx"), "input", "logits")
    write_head_layout(os.path.join(out, "expression.onnx"))  # the offsets change with every export
    _onnx(model.trunk, x, os.path.join(out, "trunk.onnx"), "input", "features")
    _onnx(model.head, torch.zeros(2, 2048), os.path.join(out, "head.onnx"), "features", "logits")
    h = model.head
    _raw(os.path.join(out, "head.f32"), [t.numpy() for t in (h.fc1.weight, h.fc1.bias, h.fc2.weight, h.fc2.bias)])

    rng = np.random.default_rng(seed)
    y = train_y.numpy()
    pick = []
    for c in range(len(LABELS)):
        idx = np.flatnonzero(y == c)
        pick.extend(rng.choice(idx, size=min(replay_per_class, len(idx)), replace=False))
    pick = np.sort(np.asarray(pick))
    feats = torch.cat([model.trunk(train_x[pick[i:i + 256]]) for i in range(0, len(pick), 256)]).numpy()
    _raw(os.path.join(out, "replay.f32"), [feats])
    replay_meta = {"count": int(len(pick)), "featureSize": int(feats.shape[1]), "labels": y[pick].tolist(),
                   "perClass": {LABELS[c]: int((y[pick] == c).sum()) for c in range(len(LABELS))}}
    with open(os.path.join(out, "replay.json.tmp"), "w") as f:
        json.dump(replay_meta, f)
    _replace(os.path.join(out, "replay.json.tmp"), os.path.join(out, "replay.json"))

    write_manifest(out, history, best, args, level_passes)
    print(f"exported to {out}", file=sys.stderr)


def _same_weights(previous, files) -> bool:
    old = previous.get("files", {}).get("expression.onnx", {}).get("sha256")
    return old is not None and old == files.get("expression.onnx", {}).get("sha256")


def write_manifest(out: str, history, best, args, level_passes: int = 0) -> None:
    root = os.path.dirname(os.path.abspath(out.rstrip("/")))
    manifest_path = os.path.join(root, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    rel = os.path.basename(out.rstrip("/"))
    files = {}
    for name in ("expression.onnx", "expression.head-layout.json", "trunk.onnx", "head.onnx", "head.f32",
                 "replay.f32", "replay.json", "head-train-step.onnx", "head-forward.onnx"):
        p = os.path.join(out, name)
        if not os.path.exists(p):  # the head-*.onnx graphs come from scripts/build_head_train_graph.py
            continue
        files[name] = {"sha256": _sha256(p), "bytes": os.path.getsize(p)}
    best_rec = next((r for r in history if r["epoch"] == best["epoch"] and r.get("phase", 1) == best.get("phase", 1)),
                    None)
    previous = manifest.get("general", {})
    manifest["general"] = {
        "dir": rel,
        "files": files,
        "labels": LABELS,
        "input": {"name": "input", "shape": ["N", 1, 48, 48], "dtype": "float32", "range": [0, 1],
                  "preprocess": "grayscale (ITU-R 601 integer luma), area resize to 48x48, /255"},
        # how the live path cuts a face for this model: levelled eyes only for a model trained on levelled faces
        "crop": {"levelEyes": level_passes > 0},
        # how its FER-2013 training faces were levelled: `npm run evaluate` levels a test set the same way
        **({"ferLevelling": {"passes": level_passes, "by": "scripts/align-fer.ts (scripts/fer-leveller.ts)"}}
           if level_passes else {}),
        "outputs": {"expression.onnx": "logits [N,7]", "trunk.onnx": "features [N,2048]",
                    "head.onnx": "features [N,2048] -> logits [N,7]"},
        "arch": args.get("arch") or "seed",
        "architecture": describe(args.get("arch") or "seed"),
        "macsPerFace": {"trunk": count_macs(build_model(args.get("arch") or "seed").trunk),
                        "expression": count_macs(build_model(args.get("arch") or "seed"))},
        "recipe": {k: args.get(k) for k in ("epochs", "batch", "lr", "weight_decay", "label_smoothing",
                                            "class_weight_power", "augment", "ema", "val_fraction", "seed", "no_augment",
                                            "bf16")},
        "phaseRecipes": args.get("recipes") or {},
        "optimizer": "AdamW; per phase a linear warm-up then cosine decay to 1% of the peak; EMA of the weights validated "
                     "beside them; augmentation and distillation per phase in phaseRecipes (docs/MODEL.md)",
        "data": {"train": "FER-2013 Training (28,709 faces) minus a seeded stratified 10% validation slice",
                 "selection": "best validation accuracy (the test split is never read during training)"},
        "epochsTrained": len(history),
        "phases": sorted({r.get("phase", 1) for r in history}),
        "bestEpoch": best["epoch"],
        "bestPhase": best.get("phase", 1),
        "validation": {"accuracy": best["val_acc"], "recall": best_rec["val_recall"] if best_rec else None},
        # metrics belong to the weights they were measured on: a re-export of the same weights keeps them, new weights
        # start with none (`--metrics` records them) instead of inheriting the previous model's figures
        "metrics": previous.get("metrics", {}) if _same_weights(previous, files) else {},
        "exportedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "licence": "Model weights: MIT (this project). Trained on FER-2013 (research/non-commercial dataset terms).",
    }
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    _replace(tmp, manifest_path)


def record_metrics(manifest_path: str, eval_json: str, name: str) -> None:
    """Store an `npm run evaluate -- --json` result under general.metrics[name] in the manifest."""
    with open(manifest_path) as f:
        manifest = json.load(f)
    with open(eval_json) as f:
        ev = json.load(f)
    # `levelling` (faces levelled as a levelled model's training faces were) says what the figure was read on
    manifest["general"].setdefault("metrics", {})[name] = {
        **{k: ev[k] for k in ("accuracy", "macroF1", "count", "perClass", "confusion", "labels")},
        **({"levelling": ev["levelling"]} if "levelling" in ev else {})}
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    _replace(tmp, manifest_path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run folder with checkpoint.pt")
    p.add_argument("--data", required=True, help="the training data the run used (for the replay set; a folder of "
                                                 "levelled faces from scripts/align-fer.ts marks the model "
                                                 "general.crop.levelEyes in the manifest)")
    p.add_argument("--out", default="models/general")
    p.add_argument("--replay-per-class", type=int, default=100)
    p.add_argument("--metrics", nargs=2, metavar=("NAME", "EVAL_JSON"),
                   help="only record an `npm run evaluate -- --json` result as general.metrics.NAME in the manifest")
    a = p.parse_args(argv)
    if a.metrics:
        record_metrics(os.path.join(os.path.dirname(os.path.abspath(a.out.rstrip("/"))), "manifest.json"), a.metrics[1],
                       a.metrics[0])
        return 0
    from fer.data import level_passes, levelling_mismatch, run_rows  # noqa: E402

    ck = torch.load(os.path.join(a.run, "checkpoint.pt"), map_location="cpu")
    model = build_model(ck["args"].get("arch", "seed"))
    model.load_state_dict(ck["best"]["state"])
    args = ck["args"]
    mismatch = levelling_mismatch(args, a.data)
    if mismatch:
        print(f"error: the run {mismatch} (the replay set and general.crop must match the run)", file=sys.stderr)
        return 2
    images, labels, tr, _ = run_rows(a.data, args)
    x = torch.from_numpy(images[tr]).float().div_(255).unsqueeze(1)
    export_all(model, a.out, x, torch.from_numpy(labels[tr]), ck["history"], ck["best"], args, a.replay_per_class,
               seed=args["seed"], level_passes=level_passes(a.data))
    return 0


if __name__ == "__main__":
    sys.exit(main())

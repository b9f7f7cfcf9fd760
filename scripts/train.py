#!/usr/bin/env python3
"""Train an expression network (--arch: the seed CNN or a larger candidate) on FER-2013 (PyTorch), with checkpoint/resume, then export ONNX.

  python3 scripts/train.py --data ../shared/datasets/fer2013/train --run runs/general --epochs 40
  (run it again with the same --run to resume; --export models/ writes the ONNX files when training is done)

The validation set is a seeded, stratified slice of the TRAINING data; the test split is never read here.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fer.data import (LABELS, DataError, is_levelled, level_passes, levelling_mismatch, limit_rows, load,  # noqa: E402
                      split_indices)
from fer.mixup import mix_batch, mix_weight, mixed_loss  # noqa: E402
from fer.model import ARCHS, build_model, fold_batchnorm, trains_with_batchnorm  # noqa: E402
from fer.optim import OPTIMIZERS, checkpoint_optimizer, make_optimizer  # noqa: E402
from fer.teachers import teacher_probs  # noqa: E402


RECIPE_KEYS = ("epochs", "batch", "lr", "weight_decay", "label_smoothing", "class_weight_power", "augment",
               "no_augment", "ema", "warmup_epochs", "init_weights", "teachers", "distill", "seed", "split_seed",
               "val_fraction", "batchnorm", "arch", "mixup", "optimizer")


def recipe_of(args: dict) -> dict:
    """What a phase was trained with (recorded per phase in the checkpoint and the manifest)."""
    r = {k: args.get(k) for k in RECIPE_KEYS}
    # a checkpoint is named by its run folder, a soft-target file by its file name
    r["teachers"] = [os.path.basename(t) if t.lower().endswith(".npz") else os.path.basename(os.path.dirname(t)) or t
                     for t in (args.get("teachers") or "").split(",") if t]
    if not r["teachers"]:
        r.pop("distill")
    return r


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 train folder (<label>/*.jpg) or Kaggle CSV")
    p.add_argument("--usage", default="Training", help="CSV Usage to train on (default Training)")
    p.add_argument("--run", required=True, help="run folder: checkpoint.pt, history.json (resumed if present)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (warmup + cosine)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw",
                   help="adamw (default) or sgd (Nesterov momentum 0.9; give it a larger --lr, e.g. 0.01)")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--class-weight-power", type=float, default=0.5,
                   help="class weight = (count)^-power, normalised; 0 turns weighting off")
    p.add_argument("--val-fraction", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=1337, help="initialisation, batch order, augmentation")
    p.add_argument("--split-seed", type=int, default=1337,
                   help="the validation slice (keep it fixed across runs that teach each other or are compared)")
    p.add_argument("--limit", type=int, default=0, help="use only N training images (smoke tests)")
    p.add_argument("--strict", action="store_true", help="first bad input row/file is fatal")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--augment", choices=["strong", "full", "medium", "light", "flip"], default="full",
                   help="strong: flip, rotation +-15, scale 0.85-1.15, shift +-5 px, 1.5x full's jitter (for "
                        "transfer to other faces, MODEL.md); full: flip, rotation +-10, scale 0.9-1.1, shift +-4 px, brightness/contrast; "
                        "medium: flip, rotation +-8, scale 0.92-1.08, shift +-3 px, half the jitter; "
                        "light: flip, rotation +-5, scale 0.95-1.05, shift +-2 px; flip: horizontal flip only")
    p.add_argument("--init-from", help="start a NEW run from the best weights of this checkpoint (phase 2 of a "
                                       "recipe); ignored when --run already has a checkpoint to resume")
    p.add_argument("--init-weights", choices=["best", "last"], default="best",
                   help="with --init-from: the checkpoint's best-validation weights or its last epoch's weights")
    p.add_argument("--teachers", default="",
                   help="comma-separated checkpoints of earlier runs and/or soft-target files (.npz, from "
                        "scripts/soft_targets.py): their averaged probabilities (on each image and its mirror, computed "
                        "once) become soft targets (knowledge distillation from an ensemble); needs --augment flip")
    p.add_argument("--distill", type=float, default=0.7,
                   help="with --teachers: weight of the soft-target loss (the labelled loss gets 1 - this)")
    p.add_argument("--arch", choices=list(ARCHS), default="seed",
                   help="network (scripts/fer/model.py): seed = the seed CNN (default); seedw, seed5, seed1x1, vgg, "
                        "vggs, vggs4, res = issue 17's larger candidates, seedds = its depthwise-separable one; all "
                        "but seed always train with BatchNorm (implies --batchnorm) and export folded")
    p.add_argument("--batchnorm", action="store_true",
                   help="train with a BatchNorm after every conv and fc1, folded into their weights whenever the best "
                        "weights are kept: the stored and exported model is the seed architecture exactly")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="mix each batch with a shuffled copy, weight ~ Beta(ALPHA, ALPHA) (0.2-0.4 usual; 0 = off); "
                        "works with --teachers (the soft targets are mixed the same way)")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                   help="bfloat16 autocast on CPU; auto = on where the CPU has AVX512-BF16 (2.6x faster there)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--ema", type=float, default=0.999,
                   help="exponential moving average of the weights (per step); validated beside the raw weights, "
                        "the better one is kept; 0 turns it off")
    p.add_argument("--stop-after", type=float, default=0, help="stop cleanly after N minutes (resume later)")
    p.add_argument("--export", help="after training, export ONNX + head weights + replay set here")
    p.add_argument("--replay-per-class", type=int, default=100)
    return p.parse_args(argv)


def cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return "avx512_bf16" in f.read()
    except OSError:
        return False


AUGMENT = {
    "strong": {"rot": 15, "scale": 0.15, "shift": 5, "contrast": 0.3, "bright": 0.15},
    "full": {"rot": 10, "scale": 0.1, "shift": 4, "contrast": 0.2, "bright": 0.1},
    "medium": {"rot": 8, "scale": 0.08, "shift": 3, "contrast": 0.1, "bright": 0.05},
    "light": {"rot": 5, "scale": 0.05, "shift": 2, "contrast": 0.0, "bright": 0.0},
    "flip": {"rot": 0, "scale": 0.0, "shift": 0, "contrast": 0.0, "bright": 0.0},
}


def augment(x: torch.Tensor, gen: torch.Generator, level: str = "full") -> torch.Tensor:
    """Batched: horizontal flip, rotation, scale, shift, brightness/contrast jitter (strength per AUGMENT[level])."""
    a = AUGMENT[level]
    n = x.shape[0]
    dev = x.device
    r = lambda lo, hi: torch.rand(n, generator=gen).to(dev) * (hi - lo) + lo  # noqa: E731
    ang = r(-a["rot"], a["rot"]) * math.pi / 180
    scale = r(1 - a["scale"], 1 + a["scale"])
    flip = torch.where(torch.rand(n, generator=gen).to(dev) < 0.5, -1.0, 1.0)
    tx, ty = r(-a["shift"] / 24, a["shift"] / 24), r(-a["shift"] / 24, a["shift"] / 24)
    cos, sin = torch.cos(ang) / scale, torch.sin(ang) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = r(1 - a["contrast"], 1 + a["contrast"]).view(n, 1, 1, 1)
    bright = r(-a["bright"], a["bright"]).view(n, 1, 1, 1)
    mean = out.mean(dim=(2, 3), keepdim=True)
    return ((out - mean) * contrast + mean + bright).clamp(0, 1)


def lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return peak * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


@torch.no_grad()
def evaluate(model, x, y, device, batch=512):
    model.eval()
    preds = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(device)
        preds.append(model(xb).argmax(1).cpu())
    p = torch.cat(preds)
    acc = (p == y).float().mean().item()
    recall = {LABELS[c]: ((p == c) & (y == c)).sum().item() / max(1, (y == c).sum().item()) for c in range(len(LABELS))}
    return acc, recall


def atomic_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def fmt_time(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{(s % 3600) // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    use_bf16 = device.type == "cpu" and (args.bf16 == "on" or (args.bf16 == "auto" and cpu_has_bf16()))
    os.makedirs(args.run, exist_ok=True)
    ckpt_path = os.path.join(args.run, "checkpoint.pt")

    log(f"loading {args.data} ...")
    try:
        images, labels, report = load(args.data, usage=args.usage, strict=args.strict)
    except DataError as exc:
        log(f"error: {exc}")
        return 2
    if report.skipped:
        log(f"skipped {report.skipped} bad rows/files")
    images, labels = limit_rows(images, labels, args.limit, args.seed)
    tr_idx, va_idx = split_indices(labels, args.val_fraction, args.split_seed)
    x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    y = torch.from_numpy(labels)
    x_tr, y_tr, x_va, y_va = x[tr_idx], y[tr_idx], x[va_idx], y[va_idx]
    counts = torch.bincount(y_tr, minlength=len(LABELS)).float()
    log(f"train {len(y_tr)}  validation {len(y_va)}  per class {counts.int().tolist()}  device {device}{' (bf16 autocast)' if use_bf16 else ''}")

    # read once: the resumed run's network, optimizer and state all come from it (on the CPU: load_state_dict moves
    # the tensors to the model's and the optimizer's device)
    ck = torch.load(ckpt_path, map_location="cpu") if os.path.exists(ckpt_path) else None
    # levelled faces (scripts/align-fer.ts) are another crop contract: a run, or a phase started from it, stays on one
    args.levelled = is_levelled(args.data)
    args.level_passes = level_passes(args.data)  # export records it, so `npm run evaluate` levels test faces alike
    # the run's or the earlier phase's recorded options (read once here: network and crop contract come from them)
    init_args = torch.load(args.init_from, map_location="cpu")["args"] if ck is None and args.init_from else None
    earlier = ck["args"] if ck is not None else init_args or {}
    mismatch = levelling_mismatch(earlier, args.data)
    if mismatch:
        log(f"error: {'the checkpoint' if ck is not None else '--init-from'} {mismatch}")
        return 2
    if ck is not None:
        saved = ck["args"]
        args.batchnorm = bool(saved.get("batchnorm", False))
        args.arch = saved.get("arch", "seed")  # a resumed run keeps its network, whatever the command line says
    elif args.init_from:
        if args.batchnorm:
            log("error: --batchnorm trains a new model from scratch; --init-from starts from plain (folded) weights")
            return 2
        # a new phase continues the checkpoint's network, in its plain (folded) form
        args.arch = init_args.get("arch", "seed")
    elif trains_with_batchnorm(args.arch):
        args.batchnorm = True
    log(f"arch {args.arch}{' (BatchNorm while training, folded into the convs for export)' if args.batchnorm else ''}")
    torch.manual_seed(args.seed)
    model = build_model(args.arch, args.batchnorm).to(device).to(memory_format=torch.channels_last)
    if ck is not None:
        # resuming continues the checkpoint's optimizer: its state (moments or momentum buffers) fits no other
        trained = checkpoint_optimizer(ck["args"])
        if trained != args.optimizer:
            log(f"note: checkpoint was trained with --optimizer {trained}; keeping it")
            args.optimizer = trained
    opt = make_optimizer(model.parameters(), args.optimizer, args.lr, args.weight_decay)
    if args.class_weight_power > 0:
        w = counts.clamp(min=1).pow(-args.class_weight_power)
        w = w / (w * counts).sum() * counts.sum()
    else:
        w = torch.ones(len(LABELS))
    w = w.to(device)
    teachers = [t for t in args.teachers.split(",") if t]
    if teachers:
        if args.augment != "flip" or args.no_augment:
            log("error: --teachers needs --augment flip (soft targets are computed once, for each image and its mirror)")
            return 2
        t0 = time.time()
        try:
            soft, soft_mirror = teacher_probs(teachers, x_tr, images[tr_idx], device, use_bf16)
            va_plain, va_mirror = teacher_probs(teachers, x_va, images[va_idx], device, use_bf16)
        except DataError as exc:
            log(f"error: {exc}")
            return 2
        log(f"distillation from {len(teachers)} teacher(s), soft targets in {time.time() - t0:.0f}s; teacher ensemble "
            f"validation {(va_plain.argmax(1) == y_va).float().mean().item():.4f} "
            f"(with mirror {((va_plain + va_mirror).argmax(1) == y_va).float().mean().item():.4f})")
        soft, soft_mirror = soft.to(device), soft_mirror.to(device)
    gen = torch.Generator().manual_seed(args.seed)
    start_epoch, history, best = 0, [], {"val_acc": -1.0, "epoch": -1, "state": None}
    if ck is not None:
        if ck["args"]["epochs"] != args.epochs:
            log(f"note: checkpoint planned {ck['args']['epochs']} epochs; keeping that schedule")
            args.epochs = ck["args"]["epochs"]
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        torch.set_rng_state(ck["torch_rng"])
        start_epoch, history, best = ck["epoch"], ck["history"], ck["best"]
        args.phase = ck["args"].get("phase", 1)
        args.recipes = ck["args"].get("recipes") or {str(args.phase): recipe_of(vars(args))}
        log(f"resumed from {ckpt_path} at epoch {start_epoch}/{args.epochs} (best val {best['val_acc']:.4f})")
    elif args.init_from:
        init = torch.load(args.init_from, map_location=device)
        model.load_state_dict(init["best"]["state"] if args.init_weights == "best" else init["model"])
        history = [dict(h, phase=h.get("phase", 1)) for h in init["history"]]
        args.phase = max(h["phase"] for h in history) + 1 if history else 1
        best = dict(init["best"], phase=init["best"].get("phase", 1))
        prev = init["args"].get("recipes") or {str(init["args"].get("phase", 1)): recipe_of(init["args"])}
        args.recipes = {**prev, str(args.phase): recipe_of(vars(args))}
        if args.init_weights == "best":
            log(f"phase {args.phase}: starting from the best weights of {args.init_from} (epoch {init['best']['epoch']}, "
                f"val {init['best']['val_acc']:.4f})")
        else:
            log(f"phase {args.phase}: starting from the last weights of {args.init_from} (epoch {init['epoch']})")

    if not getattr(args, "recipes", None):
        args.recipes = {str(getattr(args, "phase", 1)): recipe_of(vars(args))}
    ema = None
    if args.ema > 0:
        ema = build_model(args.arch, args.batchnorm).to(device).to(memory_format=torch.channels_last)
        ema.load_state_dict(model.state_dict())
        if ck is not None and ck.get("ema") is not None:
            ema.load_state_dict(ck["ema"])
        for p_ in ema.parameters():
            p_.requires_grad_(False)

    steps_per_epoch = math.ceil(len(y_tr) / args.batch)
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, int(steps_per_epoch * args.warmup_epochs))
    t_session = time.time()
    epoch_times = [h["seconds"] for h in history]
    for epoch in range(start_epoch, args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(y_tr), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            step = epoch * steps_per_epoch + b
            for g in opt.param_groups:
                g["lr"] = lr_at(step, total_steps, warmup, args.lr)
            idx = perm[b * args.batch:(b + 1) * args.batch]
            xb, yb = x_tr[idx].to(device), y_tr[idx].to(device)
            if teachers:
                flip = (torch.rand(len(idx), generator=gen) < 0.5).to(device)
                xb = torch.where(flip.view(-1, 1, 1, 1), torch.flip(xb, [3]), xb)
                target = torch.where(flip.view(-1, 1), soft_mirror[idx.to(device)], soft[idx.to(device)])
            elif not args.no_augment:
                xb = augment(xb, gen, args.augment)
            lam = mix_weight(args.mixup, args.seed, step)
            mix_perm = torch.randperm(len(yb), generator=gen).to(device) if lam < 1.0 else None
            xb = mix_batch(xb, lam, mix_perm).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                logits = model(xb)
            lf = logits.float()
            loss = mixed_loss(lambda t: F.cross_entropy(lf, t, weight=w, label_smoothing=args.label_smoothing), yb, lam, mix_perm)
            if teachers:
                kd = mixed_loss(lambda t: -(t * F.log_softmax(lf, 1)).sum(1).mean(), target, lam, mix_perm)
                loss = (1 - args.distill) * loss + args.distill * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, pm in zip(ema.parameters(), model.parameters()):
                        pe.mul_(args.ema).add_(pm.detach(), alpha=1 - args.ema)
                    for be, bm in zip(ema.buffers(), model.buffers()):  # BatchNorm running statistics
                        if be.is_floating_point():
                            be.mul_(args.ema).add_(bm, alpha=1 - args.ema)
                        else:
                            be.copy_(bm)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
            if b % 50 == 0 and b:
                el = time.time() - t0
                log(f"  epoch {epoch + 1} batch {b}/{steps_per_epoch} loss {loss_sum / seen:.4f} "
                    f"acc {correct / seen:.4f} ({el / b * 1000:.0f} ms/batch)")
        val_acc, recall = evaluate(model, x_va, y_va, device)
        chosen, weights = "raw", model
        if ema is not None:
            ema_acc, ema_recall = evaluate(ema, x_va, y_va, device)
            if ema_acc > val_acc:
                val_acc, recall, chosen, weights = ema_acc, ema_recall, "ema", ema
        secs = time.time() - t0
        epoch_times.append(secs)
        rec = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_acc": correct / seen, "val_acc": val_acc,
               "val_recall": recall, "weights": chosen, "phase": getattr(args, "phase", 1),
               "lr": opt.param_groups[0]["lr"], "seconds": secs}
        history.append(rec)
        if val_acc > best["val_acc"]:
            best = {"val_acc": val_acc, "epoch": epoch + 1, "weights": chosen, "phase": rec["phase"],
                    "state": fold_batchnorm(weights)}
        left = (args.epochs - epoch - 1) * (sum(epoch_times[-3:]) / len(epoch_times[-3:]))
        print(f"epoch {epoch + 1}/{args.epochs} loss {rec['loss']:.4f} train_acc {rec['train_acc']:.4f} "
              f"val_acc {val_acc:.4f} [{chosen}] (best {best['val_acc']:.4f} @ {best['epoch']}) "
              f"min_recall {min(recall.values()):.3f} {secs:.0f}s/epoch, time left {fmt_time(left)}", flush=True)
        atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                     "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                     "ema": ema.state_dict() if ema is not None else None, "history": history, "best": best,
                     "args": vars(args)}, ckpt_path)
        with open(os.path.join(args.run, "history.json"), "w") as f:
            json.dump(history, f, indent=1)
        if args.stop_after and time.time() - t_session > args.stop_after * 60 and epoch + 1 < args.epochs:
            log(f"stopping after {args.stop_after} minutes; run the same command again to resume")
            return 0

    if args.export:
        from export import export_all  # noqa: E402

        model = build_model(args.arch)
        model.load_state_dict(best["state"])
        export_all(model, args.export, train_x=x_tr, train_y=y_tr, history=history, best=best, args=vars(args),
                   replay_per_class=args.replay_per_class, level_passes=args.level_passes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

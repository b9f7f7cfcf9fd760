"""Re-fit a run's FC head from scratch on its frozen trunk (analysis, MODEL.md "Why the larger trunks personalise
worse"): does a trunk's personal loss come from the head trained jointly with it, or from its features?

  /usr/bin/python3 scripts/bench/refit_head.py --run /work/runs/vggs4s --data ../shared/datasets/fer2013/train \
      --out-run /work/runs/refit/vggs4s
  /usr/bin/python3 scripts/export.py --run /work/runs/refit/vggs4s --data ../shared/datasets/fer2013/train --out <dir>

The trunk's features of every training face and its mirror are computed once (eval mode, frozen), then a new head
(the same 2048 -> 1024 -> 7 layout) trains on them with the run's class weighting, label smoothing 0.1, dropout 0.25 on
the features (the trunk's own last dropout) and a one-cycle AdamW schedule; the epoch with the best accuracy on the
run's validation slice is kept. --out-run gets a checkpoint.pt with the run's trunk weights unchanged and that head,
which export.py reads like any run's.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import run_rows  # noqa: E402
from fer.model import Head, build_model  # noqa: E402


def trunk_features(model, images: np.ndarray, mirror: bool = False, batch: int = 512) -> torch.Tensor:
    out = []
    with torch.no_grad():
        for s in range(0, len(images), batch):
            x = torch.from_numpy(images[s:s + batch]).float().div_(255).unsqueeze(1)
            out.append(model.trunk(torch.flip(x, dims=[3]) if mirror else x))
    return torch.cat(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="run folder with checkpoint.pt (its best weights are used)")
    p.add_argument("--data", required=True, help="the training data the run used")
    p.add_argument("--out-run", required=True, help="folder for the re-fitted checkpoint.pt")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    ck = torch.load(os.path.join(a.run, "checkpoint.pt"), map_location="cpu")
    args = ck["args"]
    model = build_model(args.get("arch", "seed"))
    model.load_state_dict(ck["best"]["state"])
    model.eval()
    images, labels, tr, va = run_rows(a.data, args)
    t0 = time.time()
    ftr = torch.cat([trunk_features(model, images[tr]), trunk_features(model, images[tr], mirror=True)])
    ytr = torch.from_numpy(np.concatenate([labels[tr], labels[tr]])).long()
    fva, yva = trunk_features(model, images[va]), torch.from_numpy(labels[va]).long()
    print(f"features of {len(ytr)} training rows and {len(yva)} validation faces in {time.time() - t0:.0f}s", flush=True)
    counts = torch.bincount(ytr, minlength=7).float().clamp(min=1)
    weight = counts.pow(-args.get("class_weight_power", 0.3))
    weight = weight / weight.mean()
    head = Head(False)
    opt = torch.optim.AdamW(head.parameters(), lr=a.lr, weight_decay=args.get("weight_decay", 1e-4))
    per_epoch = (len(ytr) + a.batch - 1) // a.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=a.epochs * per_epoch)
    best_acc, best_state, best_epoch = -1.0, None, 0
    for epoch in range(1, a.epochs + 1):
        head.train()
        perm = torch.randperm(len(ytr))
        for s in range(0, len(perm), a.batch):
            b = perm[s:s + a.batch]
            loss = F.cross_entropy(head(F.dropout(ftr[b], 0.25, True)), ytr[b], weight=weight, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        head.eval()
        with torch.no_grad():
            acc = (head(fva).argmax(1) == yva).float().mean().item()
        print(f"epoch {epoch}/{a.epochs} val_acc {acc:.4f}", flush=True)
        if acc > best_acc:
            best_acc, best_state, best_epoch = acc, copy.deepcopy(head.state_dict()), epoch
    state = dict(ck["best"]["state"])
    state.update({"head." + k: v for k, v in best_state.items()})
    model.load_state_dict(state)
    os.makedirs(a.out_run, exist_ok=True)
    best = dict(ck["best"], state=model.state_dict(), val_acc=best_acc)
    torch.save({"args": args, "history": ck["history"], "best": best}, os.path.join(a.out_run, "checkpoint.pt"))
    print(f"re-fitted head: best val_acc {best_acc:.4f} at epoch {best_epoch} (the run's own: {ck['best']['val_acc']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

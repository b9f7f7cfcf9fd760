#!/usr/bin/env python3
"""Draw docs/img/training-curves.png (from a run's history.json) and docs/img/confusion.png (from `npm run evaluate
-- --json` output).

  /usr/bin/python3 scripts/plot_model.py --history runs/general/history.json --eval eval.json --out docs/img \
      [--compare runs/other/history.json --compare-label "other run"]
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--history", required=True)
    p.add_argument("--eval", required=True)
    p.add_argument("--out", default="docs/img")
    p.add_argument("--compare", help="another run's history.json: its validation curve is drawn beside this one")
    p.add_argument("--compare-label", default="other run", help="legend text for --compare")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    hist = json.load(open(a.history))
    ev = json.load(open(a.eval))

    # epochs counted across phases (a phase = one --init-from run with its own schedule and augmentation)
    ep = list(range(1, len(hist) + 1))
    bounds = [i + 0.5 for i in range(1, len(hist)) if hist[i].get("phase", 1) != hist[i - 1].get("phase", 1)]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for ax in (ax1, ax2):
        for b in bounds:
            ax.axvline(b, color="#999", lw=0.8, ls="-.")
    ax1.plot(ep, [h["loss"] for h in hist], label="train loss (smoothed CE, augmented)")
    ax1.set_xlabel("epoch (dash-dot lines: next training phase)")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.plot(ep, [h["train_acc"] for h in hist], label="train accuracy (augmented)")
    ax2.plot(ep, [h["val_acc"] for h in hist], label="validation accuracy (10% of train)")
    if a.compare:
        other = json.load(open(a.compare))
        ax2.plot(range(1, len(other) + 1), [h["val_acc"] for h in other], color="#999", lw=1,
                 label=f"validation, {a.compare_label}")
    ax2.axhline(ev["accuracy"], color="gray", ls="--", label=f"test (PublicTest) {ev['accuracy']:.1%}")
    ax2.axhline(0.632, color="red", ls=":", label="anchor 63.2%")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "training-curves.png"), dpi=110)

    cm = np.array(ev["confusion"], dtype=float)
    norm = cm / cm.sum(1, keepdims=True).clip(min=1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    labels = ev["labels"]
    ax.set_xticks(range(7), labels, rotation=45, ha="right")
    ax.set_yticks(range(7), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(7):
        for j in range(7):
            ax.text(j, i, f"{int(cm[i, j])}\n{norm[i, j]:.0%}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(f"FER-2013 PublicTest confusion (n={ev['count']})")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, "confusion.png"), dpi=110)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Mixup (Zhang et al. 2018) for the general-model training: each batch becomes a convex mix of itself and a shuffled
copy, and the loss mixes the two labels' losses with the same weight. A known lever for FER-2013 and for transfer to
other faces (issue 17: the `vggs` trunks fit FER-2013 better and the per-subject sets worse).

The weight is drawn per step from Beta(alpha, alpha) by a generator seeded with (seed, step), so a resumed run mixes
exactly as an uninterrupted one would.
"""
from __future__ import annotations

import numpy as np
import torch


def mix_weight(alpha: float, seed: int, step: int) -> float:
    """lambda ~ Beta(alpha, alpha), kept >= 0.5 so that the first label stays the dominant one (the accuracy counted
    during training is against it); alpha <= 0 means no mixup (1.0)."""
    if alpha <= 0:
        return 1.0
    lam = float(np.random.default_rng([seed, step]).beta(alpha, alpha))
    return max(lam, 1.0 - lam)


def mix_batch(x: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    """lam * x + (1 - lam) * x[perm] (images; any leading batch dimension)."""
    return x if lam == 1.0 else lam * x + (1.0 - lam) * x[perm]


def mixed_loss(loss_of, y: torch.Tensor, lam: float, perm: torch.Tensor) -> torch.Tensor:
    """lam * loss(y) + (1 - lam) * loss(y[perm]), `loss_of` a function of the targets (hard labels or soft targets)."""
    if lam == 1.0:
        return loss_of(y)
    return lam * loss_of(y) + (1.0 - lam) * loss_of(y[perm])

"""The training optimizer: AdamW (the default, every shipped model) or SGD with Nesterov momentum, the optimizer of
the best published single models on FER-2013 (Khaireddin & Chen 2021: momentum 0.9, Nesterov). Both run under the
same warmup + cosine schedule (train.py's lr_at sets each group's lr every step)."""
from __future__ import annotations

import torch

OPTIMIZERS = ("adamw", "sgd")
SGD_MOMENTUM = 0.9


def make_optimizer(params, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW's weight decay is decoupled; SGD's is the classic L2 term added to the gradient (as in the paper)."""
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, nesterov=True, weight_decay=weight_decay)
    raise ValueError(f"unknown optimizer {name!r}; one of {', '.join(OPTIMIZERS)}")


def checkpoint_optimizer(ck_args: dict) -> str:
    """The optimizer a checkpoint was trained with (runs from before --optimizer existed used AdamW)."""
    return ck_args.get("optimizer") or "adamw"

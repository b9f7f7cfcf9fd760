#!/usr/bin/env python3
"""Time one training step of the seed CNN on CPU: fp32 vs bfloat16 autocast, NCHW vs channels-last, batch 64/128.

  /usr/bin/python3 scripts/bench/train_step.py

Prints ms per step and the implied seconds per FER-2013 epoch (25,837 training images). Random data: this measures
arithmetic, not the data pipeline.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fer.model import SeedCNN  # noqa: E402

TRAIN_IMAGES = 25_837


def step_ms(batch: int, bf16: bool, channels_last: bool, warmup: int = 3, steps: int = 5) -> float:
    torch.manual_seed(0)
    model = SeedCNN()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x = torch.rand(batch, 1, 48, 48)
    y = torch.randint(0, 7, (batch,))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for i in range(warmup + steps):
        if i == warmup:
            t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps * 1000


def main() -> int:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for batch in (64, 128):
        for bf16 in (False, True):
            for cl in (False, True):
                ms = step_ms(batch, bf16, cl)
                print(f"batch {batch:3d}  {'bf16' if bf16 else 'fp32'}  {'channels-last' if cl else 'NCHW         '}  "
                      f"{ms:6.0f} ms/step  -> {ms / 1000 * TRAIN_IMAGES / batch:5.0f} s/epoch", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

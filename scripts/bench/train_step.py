#!/usr/bin/env python3
"""Time one training step of an expression network on CPU: fp32 vs bfloat16 autocast, NCHW vs channels-last, batch
64/128.

  /usr/bin/python3 scripts/bench/train_step.py [--arch seed|vgg|res] [--quick]   (--quick: bf16 channels-last batch 64 only)

Prints ms per step and the implied seconds per FER-2013 epoch (25,837 training images). Random data: this measures
arithmetic, not the data pipeline.
"""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from fer.model import ARCHS, build_model, trains_with_batchnorm  # noqa: E402

TRAIN_IMAGES = 25_837


def step_ms(batch: int, bf16: bool, channels_last: bool, arch: str = "seed", warmup: int = 3, steps: int = 5) -> float:
    torch.manual_seed(0)
    model = build_model(arch, trains_with_batchnorm(arch))  # the training form (with BatchNorm where the arch has it)
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
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=list(ARCHS), default="seed")
    p.add_argument("--quick", action="store_true", help="only the training configuration: bf16, channels-last, batch 64")
    a = p.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, arch {a.arch}")
    for batch in (64,) if a.quick else (64, 128):
        for bf16 in (True,) if a.quick else (False, True):
            for cl in (True,) if a.quick else (False, True):
                ms = step_ms(batch, bf16, cl, a.arch)
                print(f"batch {batch:3d}  {'bf16' if bf16 else 'fp32'}  {'channels-last' if cl else 'NCHW         '}  "
                      f"{ms:6.0f} ms/step  -> {ms / 1000 * TRAIN_IMAGES / batch:5.0f} s/epoch", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

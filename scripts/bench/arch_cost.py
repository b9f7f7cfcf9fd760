#!/usr/bin/env python3
"""Cost of each network in scripts/fer/model.py ARCHS: MACs and parameters per face, and its trunk exported to ONNX
(BatchNorm folded, exactly as scripts/export.py ships it) for timing under ONNX Runtime with scripts/bench-trunk.ts.

  /usr/bin/python3 scripts/bench/arch_cost.py --out /tmp/arch-cost [--arch vgg,res]
  npx tsx scripts/bench-trunk.ts /tmp/arch-cost/*.trunk.onnx

Weights are random (timing does not depend on them), but the BatchNorm statistics are made non-trivial by a few
training-mode batches first, so the folded export is the real inference graph. Prints one JSON line per arch.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from export import _onnx  # noqa: E402
from fer.model import ARCHS, build_model, count_macs, fold_batchnorm, trains_with_batchnorm  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", default=",".join(ARCHS))
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for arch in a.arch.split(","):
        torch.manual_seed(0)
        bn = trains_with_batchnorm(arch)
        trained = build_model(arch, bn).train()
        with torch.no_grad():
            for _ in range(3):
                trained(torch.rand(16, 1, 48, 48))
        plain = build_model(arch).eval()
        plain.load_state_dict(fold_batchnorm(trained))
        path = os.path.join(a.out, f"{arch}.trunk.onnx")
        _onnx(plain.trunk, torch.zeros(2, 1, 48, 48), path, "input", "features")
        print(json.dumps({"arch": arch, "trunkMacs": count_macs(plain.trunk), "macs": count_macs(plain),
                          "trunkParams": sum(t.numel() for t in plain.trunk.parameters()), "trunk": path}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""Print the PyTorch model's probabilities for images, with the training preprocessing (used by the parity test).

  python3 scripts/fer/predict.py --run <run folder> img1.jpg img2.png ...   -> JSON {"paths": [...], "probs": [[7]...]}
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import load_image  # noqa: E402
from fer.model import build_model  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--run", required=True)
    p.add_argument("images", nargs="+")
    a = p.parse_args()
    ck = torch.load(os.path.join(a.run, "checkpoint.pt"), map_location="cpu")
    model = build_model(ck["args"].get("arch", "seed"))
    model.load_state_dict(ck["best"]["state"])
    model.eval()
    x = np.stack([load_image(path) for path in a.images]).astype(np.float32) / 255
    with torch.no_grad():
        probs = torch.softmax(model(torch.from_numpy(x).unsqueeze(1)), 1).numpy()
    json.dump({"paths": a.images, "pixels": [load_image(p).reshape(-1).tolist() for p in a.images],
               "probs": probs.tolist()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Hand-made runs in the shape gate_rules.load() gives, for the per-face rules' unit tests."""
import numpy as np


def run(id_, seed, y, g, p, s=None):
    """One fine-tune's test faces: labels y, general g and personal p probabilities, likeness s (NaN when not given)."""
    return dict(id=id_, seed=seed, y=np.array(y), g=np.array(g, dtype=float), p=np.array(p, dtype=float),
                s=np.array([np.nan] * len(y) if s is None else s, dtype=float))


def onehot(label, sure):
    """Probabilities with `sure` on `label` and the rest spread evenly over the other six classes."""
    v = np.full(7, (1 - sure) / 6)
    v[label] = sure
    return v

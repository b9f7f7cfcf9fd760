"""A likeness gate (docs/PERSONALIZATION.md, "A likeness gate"), scored offline on bench:personalization dumps.

A face whose likeness s (the largest cosine similarity of its trunk features to any of the user's calibration faces')
is below theta keeps the general head's label; every other face gets the served model (the gate tau = 0.98 included).
theta is one of the 10th..50th percentiles of s over every test face of the choosing dumps (each face counted once).

    cd scripts/personal && /usr/bin/python3 likeness_gate.py --choose jaffe-1.json taiwanese-1.json \\
        --judge jaffe-13.json taiwanese-13.json
(files from `npm run bench:personalization -- --data <set> --seeds S --gate 1 --dump <file> --json`; one per set,
JAFFE first, in both lists)
"""
import numpy as np

try:  # imported as scripts.personal.likeness_gate (the unit tests) or run as a script from its folder
    from . import per_face_rule
    from .gate_rules import SERVED_TAU, gate
except ImportError:
    import per_face_rule
    from gate_rules import SERVED_TAU, gate

PERCENTILES = (10, 20, 30, 40, 50)


def likeness_gate(run, theta, tau=SERVED_TAU):
    """Labels: the general head's where s < theta, the served model's elsewhere (theta None: the served model alone)."""
    served = gate(run, tau)
    if theta is None:
        return served
    if np.isnan(run['s']).any():
        raise ValueError(f"run {run['id']} seed {run['seed']} has no likeness: dump it with a bench that writes one")
    return np.where(run['s'] < theta, run['g'].argmax(1), served)


def thresholds(sets, percentiles=PERCENTILES):
    """{percentile: theta} over every test face of the sets, each face once (the likeness does not depend on the seed)."""
    values = []
    for runs in sets:
        first = min(r['seed'] for r in runs)
        values += [r['s'] for r in runs if r['seed'] == first]
    values = np.concatenate(values)
    return {q: float(np.percentile(values, q)) for q in percentiles}


def qualifies(sets, theta):
    """No subject of any set below -1 face, and no set's mean below the served model's."""
    return per_face_rule.qualifies(sets, likeness_gate, theta)


def choose(sets, candidates):
    """Among the qualifying thetas, the one with the most faces right over all sets; ties to the smaller theta."""
    return per_face_rule.choose(sets, likeness_gate, sorted(candidates))


def sent_to_general(runs, theta):
    return f", {sum(int((r['s'] < theta).sum()) for r in runs)} to general"


if __name__ == '__main__':
    per_face_rule.main(__doc__, 'theta', likeness_gate,
                       lambda sets: {f'p{q} {t:.4f}': t for q, t in thresholds(sets).items()},
                       label=lambda t: f'{t:.4f}', extra=sent_to_general)

"""A likeness gate (docs/PERSONALIZATION.md, "A likeness gate"), scored offline on bench:personalization dumps.

A face whose likeness s (the largest cosine similarity of its trunk features to any of the user's calibration faces')
is below theta keeps the general head's label; every other face gets the served model (the gate tau = 0.98 included).
theta is one of the 10th..50th percentiles of s over every test face of the choosing dumps (each face counted once).

    cd scripts/personal && /usr/bin/python3 likeness_gate.py --choose jaffe-1.json taiwanese-1.json \\
        --judge jaffe-13.json taiwanese-13.json
(files from `npm run bench:personalization -- --data <set> --seeds S --gate 1 --dump <file> --json`; one per set,
JAFFE first, in both lists)
"""
import argparse

import numpy as np

try:  # imported as scripts.personal.likeness_gate (the unit tests) or run as a script from its folder
    from .gate_rules import gate, load, score_labels
except ImportError:
    from gate_rules import gate, load, score_labels

SERVED_TAU = 0.98
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


def rows(sets, theta):
    return [score_labels(runs, lambda r: likeness_gate(r, theta)) for runs in sets]


def qualifies(sets, theta):
    """No subject of any set below -1 face, and no set's mean below the served model's."""
    return all(not bad and mean >= served[0] - 1e-12 for (mean, _, bad), served in zip(rows(sets, theta), rows(sets, None)))


def choose(sets, candidates):
    """Among the qualifying thetas, the one with the most faces right over all sets; ties to the smaller theta."""
    best = None
    for theta in sorted(candidates):
        right = sum(r[1] for r in rows(sets, theta))
        if qualifies(sets, theta) and (best is None or right > best[1]):
            best = (theta, right)
    return None if best is None else best[0]


def report(names, sets, candidates):
    for label, theta in [('served', None)] + [(f'p{q} {t:.4f}', t) for q, t in candidates.items()]:
        cells = []
        for name, runs, (mean, right, bad) in zip(names, sets, rows(sets, theta)):
            faces = sum(len(r['y']) for r in runs)
            sent = '' if theta is None else f", {sum(int((r['s'] < theta).sum()) for r in runs)} to general"
            cells.append(f"{name}: {mean * 100:6.2f}% ({right} of {faces}{sent}) below -1: {bad or '-'}")
        print(f'  {label:12s} ' + ' | '.join(cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--choose', nargs='+', required=True, help='dumps theta is chosen on (one per set)')
    ap.add_argument('--judge', nargs='+', help='dumps of fresh seeds the chosen theta is judged on (same sets, same order)')
    a = ap.parse_args()
    chosen_on = [load(p) for p in a.choose]
    candidates = thresholds(chosen_on)
    print('choose on', ' '.join(a.choose))
    report(a.choose, chosen_on, candidates)
    theta = choose(chosen_on, candidates.values())
    if theta is None:
        print('no theta qualifies on the choosing seeds: not adopted')
        return
    print(f'chosen theta: {theta:.4f}')
    if a.judge:
        judged = [load(p) for p in a.judge]
        print('judge on', ' '.join(a.judge))
        report(a.judge, judged, {q: t for q, t in candidates.items() if t == theta})
        print(f"theta {theta:.4f}: {'adopted' if qualifies(judged, theta) else 'not adopted'}")


if __name__ == '__main__':
    main()

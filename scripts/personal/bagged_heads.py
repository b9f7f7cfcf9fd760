"""The bagged personal head of docs/PERSONALIZATION.md ("A bagged personal head"), scored offline on dumps.

A bag of K heads is K fine-tunes of the same subject with seeds first+(b-1)K ... first+bK-1 (first: the lowest seed in
the dumps; bag b = seeds (b-1)K+1 ... bK for dumps from seed 1), served as the mean of their personal
probabilities, then the served gate (tau 0.98) as for one head. Bags are judged as single heads are: in groups of three
(bags 1-3, 4-6, ...), per subject the mean delta (faces right minus the general head's) over the group's three, and the
set's mean over all bags against its mean over all the single heads they were made of. The rule, written before the
dumps existed: K = 3, adopted only if every group of both sets leaves no subject below -1 face and neither set's mean
falls; the second rule: K = 5 on the Taiwanese set's fresh seeds 46-90 (`--k 5 --taiwanese ...`).

    cd scripts/personal && /usr/bin/python3 bagged_heads.py --jaffe j1.json j10.json ... --taiwanese t1.json ...
(files from `npm run bench:personalization -- --data <set> --seeds 1,...,9 --gate 1 --dump <file> --json`)
"""
import argparse

import numpy as np

try:  # imported as scripts.personal.bagged_heads (the unit tests) or run as a script from its folder
    from .gate_rules import SERVED_TAU, load, score, served_personal
except ImportError:
    from gate_rules import SERVED_TAU, load, score, served_personal

K = 3
GROUP = 3  # models per group, as the single heads' three-seed protocol


def bags(runs, k):
    """Bag b (1, 2, ...) of each subject: the mean served personal probabilities of its runs with seeds
    first + (b-1)k ... first + bk - 1 (first: the subject's lowest seed), the general head's as theirs (the same trunk and
    faces on every seed). Only complete bags; the bag's seed is b."""
    by_subject = {}
    for r in runs:
        by_subject.setdefault(r['id'], {})[r['seed']] = r
    out = []
    for subject, seeds in by_subject.items():
        first, b = min(seeds), 1
        while all(first + s in seeds for s in range((b - 1) * k, b * k)):
            members = [seeds[first + s] for s in range((b - 1) * k, b * k)]
            head = members[0]
            for m in members[1:]:
                if not (np.array_equal(m['y'], head['y']) and np.allclose(m['g'], head['g'], atol=1e-5)):
                    raise ValueError(f'{subject}: seeds {first + (b - 1) * k}-{first + b * k - 1} do not share their test faces')
            out.append(dict(id=subject, seed=b, y=head['y'], g=head['g'], s=head['s'], w=1.0,
                            p=np.mean([served_personal(m) for m in members], axis=0)))
            b += 1
    return out


def groups(runs):
    """Runs split into groups of GROUP consecutive seeds from the lowest (1-3, 4-6, ...); an incomplete last group is
    dropped."""
    low, top = min(r['seed'] for r in runs), max(r['seed'] for r in runs)
    return [[r for r in runs if first <= r['seed'] < first + GROUP] for first in range(low, top - GROUP + 2, GROUP)]


def report(runs, tau=SERVED_TAU):
    """Per group: (first seed, mean, faces right, {subject: mean delta < -1}); then the mean over every model."""
    rows = []
    for g in groups(runs):
        mean, right, bad = score(g, tau)
        rows.append((min(r['seed'] for r in g), mean, right, bad))
    return rows, score(runs, tau)[0]


def judge(sets, k=K, tau=SERVED_TAU):
    """The rule: every group of every set's bags without a subject below -1 face, no set's mean below its single heads'."""
    for runs in sets:
        made = bags(runs, k)
        if len(made) < GROUP:
            raise ValueError(f'{k} heads per bag need at least {GROUP * k} consecutive seeds per subject')
        bag_rows, bag_mean = report(made, tau)
        low = min(r['seed'] for r in runs)
        single_mean = score([r for r in runs if r['seed'] < low + len(bag_rows) * GROUP * k], tau)[0]
        if any(bad for _, _, _, bad in bag_rows) or bag_mean < single_mean - 1e-12:
            return False
    return True


def load_all(paths):
    """The runs of several dumps of one set (consecutive seed ranges), as one list."""
    return [r for p in paths for r in load(p)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--jaffe', nargs='+', default=[], help="JAFFE's dumps (consecutive seeds between them)")
    ap.add_argument('--taiwanese', nargs='+', default=[], help="the Taiwanese set's dumps")
    ap.add_argument('--k', type=int, default=K, help=f'heads per bag the rule judges (default {K})')
    a = ap.parse_args()
    if a.k < 1:
        ap.error('--k needs a whole number >= 1')
    sets = {name: load_all(paths) for name, paths in (('JAFFE', a.jaffe), ('Taiwanese', a.taiwanese)) if paths}
    if not sets:
        ap.error('give --jaffe and/or --taiwanese dumps')
    for name, runs in sets.items():
        print(f'{name}: {len({r["id"] for r in runs})} subjects, seeds {min(r["seed"] for r in runs)}-{max(r["seed"] for r in runs)}')
        for label, models in [('single heads', runs)] + [(f'bags of {k}', bags(runs, k)) for k in sorted({2, 3, 5, a.k})]:
            rows, mean = report(models)
            print(f'  {label:12s} mean {mean * 100:6.2f}% over {len(rows) * GROUP} models')
            for first, m, right, bad in rows:
                print(f'    group {first:2d}-{first + GROUP - 1:2d}  {m * 100:6.2f}%  ({right} faces)  '
                      f"subjects mean delta < -1: {bad or '-'}")
    adopted = judge(list(sets.values()), a.k)
    print(f'rule (K = {a.k}, gate {SERVED_TAU}, {" + ".join(sets)}): {"passes" if adopted else "fails"}')


if __name__ == '__main__':
    main()

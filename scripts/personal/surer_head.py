"""The surer head (docs/PERSONALIZATION.md, "The surer head"), scored offline on bench:personalization dumps.

On top of the served gate (the general label where the general head is >= tau sure), a face also keeps the general
head's label where the general head is surer of its label than the served personal model is of its own by at least
`margin`: max(general) - max(personal) >= margin. Everywhere else the personal model's label stands, as served.
margin None = the served gate alone.

    /usr/bin/python3 scripts/personal/surer_head.py --choose jaffe-1.json taiwanese-1.json \\
        --judge jaffe-10.json taiwanese-10.json
(files from `npm run bench:personalization -- --data <set> --seeds S --gate 1 --dump <file> --json`; one file per set,
JAFFE first, in both lists)
"""
import argparse

import numpy as np

try:  # imported as scripts.personal.surer_head (the unit tests) or run as a script from its folder
    from .gate_rules import gate, load, score_labels
except ImportError:
    from gate_rules import gate, load, score_labels

SERVED_TAU = 0.98
MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def surer(run, margin, tau=SERVED_TAU):
    """Labels under the served gate plus the margin rule (margin None: the served gate alone)."""
    served = gate(run, tau)
    if margin is None:
        return served
    w = run.get('w', 1.0)
    personal = w * run['p'] + (1 - w) * run['g']
    general_surer = run['g'].max(1) - personal.max(1) >= margin
    return np.where(general_surer, run['g'].argmax(1), served)


def table(sets, margins):
    """{margin: [(mean, faces right, {subject: mean delta < -1}) per set]}"""
    return {m: [score_labels(runs, lambda r, m=m: surer(r, m)) for runs in sets] for m in margins}


def choose(sets, margins=MARGINS):
    """The rule's choice: among the margins that leave no subject of any set below -1 face and no set's mean below the
    served gate's, the one with the most faces right over all sets; ties to the larger margin (the smaller change).
    None if no margin qualifies."""
    served = [score_labels(runs, lambda r: surer(r, None)) for runs in sets]
    best = None
    for m in sorted(margins):
        rows = [score_labels(runs, lambda r, m=m: surer(r, m)) for runs in sets]
        ok = all(not bad and mean >= s[0] - 1e-12 for (mean, _, bad), s in zip(rows, served))
        right = sum(r[1] for r in rows)
        if ok and (best is None or right >= best[1]):
            best = (m, right)
    return None if best is None else best[0]


def judge(sets, margin):
    """Adopted when, on every set, the mean is not below the served gate's and no subject is below -1 face."""
    served = [score_labels(runs, lambda r: surer(r, None)) for runs in sets]
    rows = [score_labels(runs, lambda r: surer(r, margin)) for runs in sets]
    return all(not bad and mean >= s[0] - 1e-12 for (mean, _, bad), s in zip(rows, served))


def report(names, sets):
    for m, rows in table(sets, (None,) + MARGINS).items():
        cells = []
        for name, runs, (mean, right, bad) in zip(names, sets, rows):
            faces = sum(len(r['y']) for r in runs)
            cells.append(f"{name}: {mean * 100:6.2f}% ({right} of {faces}) below -1: {bad or '-'}")
        print(f"  {'served gate' if m is None else f'margin {m}':12s} " + ' | '.join(cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--choose', nargs='+', required=True, help='dumps the margin is chosen on (one per set)')
    ap.add_argument('--judge', nargs='+', help='dumps of fresh seeds the chosen margin is judged on (same sets, same order)')
    a = ap.parse_args()
    chosen_on = [load(p) for p in a.choose]
    print('choose on', ' '.join(a.choose))
    report(a.choose, chosen_on)
    m = choose(chosen_on)
    if m is None:
        print('no margin qualifies on the choosing seeds: not adopted')
        return
    print(f'chosen margin: {m}')
    if a.judge:
        judged = [load(p) for p in a.judge]
        print('judge on', ' '.join(a.judge))
        report(a.judge, judged)
        print(f"margin {m}: {'adopted' if judge(judged, m) else 'not adopted'}")


if __name__ == '__main__':
    main()

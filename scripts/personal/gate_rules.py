"""The per-face gate of docs/PERSONALIZATION.md ("A per-face gate"), scored offline on bench:personalization dumps.

A personal model with gate tau keeps the general head's label where the general head gives it probability >= tau,
and takes the personal head's label elsewhere. For each tau: the mean accuracy over subjects and seeds, and the
subjects whose mean delta (faces right minus the general head's, averaged over the seeds) is below -1 face. Then the
rule written before the analysis: tau chosen on the first set, scored unchanged on the second.

    /usr/bin/python3 scripts/personal/gate_rules.py jaffe.json taiwanese.json
(files from `npm run bench:personalization -- --data <set> --seeds 1,2,3 --dump <file> --json`)
"""
import argparse
import json

import numpy as np

TAUS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
CLASSES = 7


def load(path):
    """Runs of a --dump file, each with labels y (n), general g and personal p probabilities (n x 7), likeness s (n;
    NaN in dumps written before it existed)."""
    with open(path) as f:
        d = json.load(f)
    runs = []
    for r in d['runs']:
        n = len(r['labels'])
        runs.append(dict(id=r['id'], seed=r['seed'], w=r.get('w', 1.0), y=np.array(r['labels']),
                         g=np.array(r['general'], dtype=np.float64).reshape(n, CLASSES),
                         p=np.array(r['personal'], dtype=np.float64).reshape(n, CLASSES),
                         s=np.array(r.get('likeness') or [np.nan] * n, dtype=np.float64)))
    return runs


SERVED_TAU = 0.98  # PERSONAL_GATE's default (src/config.ts), chosen by the rules in docs/PERSONALIZATION.md


def served_personal(run):
    """The personal model's probabilities as the server scores them: w * personal + (1 - w) * general, w the run's
    blend weight (1, the head alone, unless --cv-folds chose one)."""
    w = run.get('w', 1.0)
    return w * run['p'] + (1 - w) * run['g']


def gate(run, tau):
    """Labels under the gate; tau None = no gate. Faces the gate leaves get the personal model as the server scores
    it: w * personal + (1 - w) * general, w the run's blend weight (1, the head alone, unless --cv-folds chose one)."""
    personal = served_personal(run).argmax(1)
    if tau is None:
        return personal
    return np.where(run['g'].max(1) >= tau, run['g'].argmax(1), personal)


def score(runs, tau):
    """(mean accuracy: per seed the mean over subjects, then the mean over seeds; faces right; {subject: mean delta < -1})"""
    return score_labels(runs, lambda r: gate(r, tau))


def score_labels(runs, labels):
    """score() for any rule: labels(run) gives the rule's label for each of the run's faces."""
    per_seed, deltas, right = {}, {}, 0
    for r in runs:
        ok = int((labels(r) == r['y']).sum())
        right += ok
        per_seed.setdefault(r['seed'], []).append(ok / len(r['y']))
        deltas.setdefault(r['id'], []).append(ok - int((r['g'].argmax(1) == r['y']).sum()))
    mean = float(np.mean([np.mean(v) for v in per_seed.values()]))
    bad = {k: round(float(np.mean(v)), 2) for k, v in deltas.items() if np.mean(v) < -1}
    return mean, right, bad


def choose(runs, taus=TAUS):
    """The tau with the highest mean among those leaving no subject below -1 face; ties to the larger tau. None if none."""
    best = None
    for tau in sorted(taus):
        mean, _, bad = score(runs, tau)
        if not bad and (best is None or mean >= best[1] - 1e-12):
            best = (tau, mean)
    return None if best is None else best[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('choose_on', help='dump of the set tau is chosen on')
    ap.add_argument('score_on', help='dump of the set the chosen tau is scored on')
    a = ap.parse_args()
    sets = {a.choose_on: load(a.choose_on), a.score_on: load(a.score_on)}
    for path, runs in sets.items():
        print(path)
        for tau in (None,) + TAUS:
            mean, right, bad = score(runs, tau)
            faces = sum(len(r['y']) for r in runs)
            print(f"  {'no gate' if tau is None else f'tau {tau}':10s} {mean * 100:6.2f}%  ({right} of {faces} faces)  "
                  f"subjects mean delta < -1: {bad or '-'}")
    tau = choose(sets[a.choose_on])
    if tau is None:
        print('no tau leaves every subject of the first set within one face: not adopted')
        return
    head, _, _ = score(sets[a.score_on], None)
    mean, _, bad = score(sets[a.score_on], tau)
    adopted = mean >= head - 1e-12 and not bad
    print(f'chosen on {a.choose_on}: tau {tau}; on {a.score_on}: {mean * 100:.2f}% (no gate {head * 100:.2f}%), '
          f"subjects below -1: {bad or '-'} -> {'adopted' if adopted else 'not adopted'}")


if __name__ == '__main__':
    main()

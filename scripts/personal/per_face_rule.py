"""What the per-face rules tried after the served gate share (docs/PERSONALIZATION.md, "The surer head" and "A
likeness gate"): the rule's labels scored against the served gate on dumps of several sets, a parameter chosen on one
set of fine-tune seeds and judged on fresh ones, and the command line that prints both.

A rule is a function (run, value) -> labels, with value None meaning the served model alone (the gate at tau 0.98).
"""
import argparse

try:  # imported as scripts.personal.per_face_rule (the unit tests) or run from this folder
    from .gate_rules import load, score_labels
except ImportError:
    from gate_rules import load, score_labels


def rows(sets, rule, value):
    """Per set: (mean, faces right, {subject: mean delta < -1}) of the rule at `value`."""
    return [score_labels(runs, lambda r: rule(r, value)) for runs in sets]


def qualifies(sets, rule, value):
    """No subject of any set below -1 face, and no set's mean below the served model's (the rule at None)."""
    return all(not bad and mean >= served[0] - 1e-12
               for (mean, _, bad), served in zip(rows(sets, rule, value), rows(sets, rule, None)))


def choose(sets, rule, values):
    """Among the qualifying values, the one with the most faces right over all sets; ties go to the earliest in
    `values` (each rule lists its values from the smallest change up). None if none qualifies."""
    best = None
    for value in values:
        right = sum(r[1] for r in rows(sets, rule, value))
        if qualifies(sets, rule, value) and (best is None or right > best[1]):
            best = (value, right)
    return None if best is None else best[0]


def report(names, sets, rule, labelled, extra=None):
    """One line per (label, value) in `labelled`: each set's mean, faces right and subjects below -1 face; `extra(runs,
    value)` adds a note per set."""
    for label, value in labelled:
        cells = []
        for name, runs, (mean, right, bad) in zip(names, sets, rows(sets, rule, value)):
            faces = sum(len(r['y']) for r in runs)
            note = extra(runs, value) if extra and value is not None else ''
            cells.append(f"{name}: {mean * 100:6.2f}% ({right} of {faces}{note}) below -1: {bad or '-'}")
        print(f'  {label:12s} ' + ' | '.join(cells))


def main(doc, name, rule, values_from, label=str, extra=None):
    """The command line: --choose dumps (one per set) pick a value among values_from(chosen sets) -> {label: value},
    listed from the smallest change up; --judge dumps of fresh seeds say whether it is adopted."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--choose', nargs='+', required=True, help=f'dumps the {name} is chosen on (one per set)')
    ap.add_argument('--judge', nargs='+', help=f'dumps of fresh seeds the chosen {name} is judged on (same sets, same order)')
    a = ap.parse_args()
    chosen_on = [load(p) for p in a.choose]
    values = values_from(chosen_on)
    print('choose on', ' '.join(a.choose))
    report(a.choose, chosen_on, rule, [('served', None)] + list(values.items()), extra)
    value = choose(chosen_on, rule, list(values.values()))
    if value is None:
        print(f'no {name} qualifies on the choosing seeds: not adopted')
        return
    print(f'chosen {name}: {label(value)}')
    if a.judge:
        judged = [load(p) for p in a.judge]
        print('judge on', ' '.join(a.judge))
        report(a.judge, judged, rule, [('served', None)] + [(k, v) for k, v in values.items() if v == value], extra)
        print(f"{name} {label(value)}: {'adopted' if qualifies(judged, rule, value) else 'not adopted'}")

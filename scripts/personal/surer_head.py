"""The surer head (docs/PERSONALIZATION.md, "The surer head"), scored offline on bench:personalization dumps.

On top of the served gate (the general label where the general head is >= tau sure), a face also keeps the general
head's label where the general head is surer of its label than the served personal model is of its own by at least
`margin`: max(general) - max(personal) >= margin. Everywhere else the personal model's label stands, as served.
margin None = the served gate alone.

    cd scripts/personal && /usr/bin/python3 surer_head.py --choose jaffe-1.json taiwanese-1.json \\
        --judge jaffe-10.json taiwanese-10.json
(files from `npm run bench:personalization -- --data <set> --seeds S --gate 1 --dump <file> --json`; one file per set,
JAFFE first, in both lists)
"""
import numpy as np

try:  # imported as scripts.personal.surer_head (the unit tests) or run as a script from its folder
    from . import per_face_rule
    from .gate_rules import SERVED_TAU, gate, served_personal
except ImportError:
    import per_face_rule
    from gate_rules import SERVED_TAU, gate, served_personal

MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def surer(run, margin, tau=SERVED_TAU):
    """Labels under the served gate plus the margin rule (margin None: the served gate alone)."""
    served = gate(run, tau)
    if margin is None:
        return served
    personal = served_personal(run)
    general_surer = run['g'].max(1) - personal.max(1) >= margin
    return np.where(general_surer, run['g'].argmax(1), served)


def choose(sets, margins=MARGINS):
    """The rule's choice: among the margins that leave no subject of any set below -1 face and no set's mean below the
    served gate's, the one with the most faces right over all sets; ties to the larger margin (the smaller change).
    None if no margin qualifies."""
    return per_face_rule.choose(sets, surer, sorted(margins, reverse=True))


def judge(sets, margin):
    """Adopted when, on every set, the mean is not below the served gate's and no subject is below -1 face."""
    return per_face_rule.qualifies(sets, surer, margin)


if __name__ == '__main__':
    per_face_rule.main(__doc__, 'margin', surer, lambda sets: {f'margin {m}': m for m in sorted(MARGINS, reverse=True)})

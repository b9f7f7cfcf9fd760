"""Three layouts of a per-subject set for the "varied calibration" measurement (docs/PERSONALIZATION.md): per subject
and label, the test photos are dealt alternately into A (1st, 3rd, ...: index 1, 3, ...) and B (index 0, 2, ...).

  orig/<subject>/calibration   = the set's calibration photos                      orig/<subject>/test   = B
  varied/<subject>/calibration = calibration photos + A                            varied/<subject>/test = B
  mixed/<subject>/calibration  = as many photos as orig: half of A, the rest        mixed/<subject>/test  = B
                                 evenly spaced calibration photos

All score the same faces (B); only the calibration differs. `mixed` has orig's count per subject and label, so
orig against mixed is variety at equal quantity, mixed against varied quantity at equal variety. Symlinks, nothing
copied.

    /usr/bin/python3 scripts/personal/varied_calibration.py ../shared/datasets/taiwanese /tmp/tw-split
"""
import argparse
import os

VARIANTS = ('orig', 'varied', 'mixed')


def spread(files, k):
    """k of files, evenly spaced (all of them when k >= len(files))."""
    if k >= len(files):
        return list(files)
    return [files[(i * len(files)) // k] for i in range(k)]


def calibration_for(variant, calibration, a):
    """The (split, file) pairs one variant calibrates on, for one subject and label."""
    own = [('calibration', f) for f in calibration]
    if variant == 'orig':
        return own
    if variant == 'varied':
        return own + [('test', f) for f in a]
    n = len(calibration)
    k = min(n // 2, len(a))  # half from the other styles, when there are that many
    return [('calibration', f) for f in spread(calibration, n - k)] + [('test', f) for f in spread(a, k)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('root', help='per-subject set: <subject>/{calibration,test}/<label>/<image>')
    ap.add_argument('out', help='new folder for orig/, varied/ and mixed/ (must not exist)')
    a = ap.parse_args()
    root = os.path.realpath(a.root)
    os.makedirs(a.out)
    for variant in VARIANTS:
        for subject in sorted(os.listdir(root)):
            sd = os.path.join(root, subject)
            if not os.path.isdir(os.path.join(sd, 'test')):
                continue
            for label in sorted(os.listdir(os.path.join(sd, 'test'))):
                test = sorted(os.listdir(os.path.join(sd, 'test', label)))
                calibration_dir = os.path.join(sd, 'calibration', label)
                calibration = sorted(os.listdir(calibration_dir)) if os.path.isdir(calibration_dir) else []
                links = {'test': [('test', f) for f in test[0::2]],
                         'calibration': calibration_for(variant, calibration, test[1::2])}
                for split, files in links.items():
                    d = os.path.join(a.out, variant, subject, split, label)
                    os.makedirs(d, exist_ok=True)
                    for src, f in files:
                        os.symlink(os.path.join(sd, src, label, f), os.path.join(d, f))


if __name__ == '__main__':
    main()

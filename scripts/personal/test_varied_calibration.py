import os
import tempfile
import unittest

from scripts.personal.varied_calibration import calibration_for, spread


class SpreadTest(unittest.TestCase):
    def test_takes_evenly_spaced_files_or_all_of_them(self):
        self.assertEqual(spread(list('abcdef'), 3), ['a', 'c', 'e'])
        self.assertEqual(spread(list('abc'), 5), ['a', 'b', 'c'])
        self.assertEqual(spread(list('abc'), 0), [])


class CalibrationForTest(unittest.TestCase):
    cal = ['c0', 'c1', 'c2', 'c3', 'c4']
    a = ['t1', 't3', 't5']

    def test_orig_is_the_sets_own_calibration(self):
        self.assertEqual(calibration_for('orig', self.cal, self.a), [('calibration', f) for f in self.cal])

    def test_varied_adds_all_of_a(self):
        self.assertEqual(calibration_for('varied', self.cal, self.a)[5:], [('test', f) for f in self.a])

    def test_mixed_keeps_origs_count_with_half_from_a(self):
        mixed = calibration_for('mixed', self.cal, self.a)
        self.assertEqual(len(mixed), len(self.cal))
        self.assertEqual([f for s, f in mixed if s == 'test'], ['t1', 't3'])
        self.assertEqual([f for s, f in mixed if s == 'calibration'], ['c0', 'c1', 'c3'])

    def test_mixed_with_few_other_photos_fills_up_from_calibration(self):
        mixed = calibration_for('mixed', self.cal, ['t1'])
        self.assertEqual(len(mixed), 5)
        self.assertEqual([f for s, f in mixed if s == 'test'], ['t1'])


class LayoutTest(unittest.TestCase):
    def test_all_layouts_score_the_same_faces(self):
        import subprocess
        import sys
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, 'set')
            for split, names in (('calibration', ['c0', 'c1', 'c2', 'c3']), ('test', ['t0', 't1', 't2', 't3', 't4'])):
                d = os.path.join(root, 'S1', split, 'happy')
                os.makedirs(d)
                for n in names:
                    open(os.path.join(d, n + '.png'), 'w').close()
            out = os.path.join(tmp, 'out')
            here = os.path.dirname(os.path.abspath(__file__))
            subprocess.run([sys.executable, os.path.join(here, 'varied_calibration.py'), root, out], check=True)
            for v in ('orig', 'varied', 'mixed'):
                self.assertEqual(sorted(os.listdir(os.path.join(out, v, 'S1', 'test', 'happy'))), ['t0.png', 't2.png', 't4.png'])
            counts = {v: len(os.listdir(os.path.join(out, v, 'S1', 'calibration', 'happy'))) for v in ('orig', 'varied', 'mixed')}
            self.assertEqual(counts, {'orig': 4, 'varied': 6, 'mixed': 4})


if __name__ == '__main__':
    unittest.main()

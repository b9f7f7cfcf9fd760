import unittest

import numpy as np

from scripts.personal.dump_fixtures import onehot, run
from scripts.personal.likeness_gate import choose, likeness_gate, qualifies, thresholds


class LikenessGateTest(unittest.TestCase):
    def test_faces_unlike_every_calibration_face_keep_the_general_label(self):
        r = run('A', 1, [0, 1], [onehot(0, 0.6), onehot(2, 0.6)], [onehot(3, 0.9), onehot(1, 0.9)], [0.4, 0.8])
        self.assertEqual(list(likeness_gate(r, None)), [3, 1])  # the served model
        self.assertEqual(list(likeness_gate(r, 0.5)), [0, 1])  # face 0 is unlike the calibration faces
        self.assertEqual(list(likeness_gate(r, 0.9)), [0, 2])
        sure = run('B', 1, [0], [onehot(0, 0.99)], [onehot(3, 0.9)], [0.95])
        self.assertEqual(list(likeness_gate(sure, 0.5)), [0])  # the served gate still applies to like faces

    def test_a_dump_without_likeness_is_refused(self):
        r = run('A', 1, [0], [onehot(0, 0.6)], [onehot(3, 0.9)], [np.nan])
        self.assertEqual(list(likeness_gate(r, None)), [3])
        with self.assertRaises(ValueError):
            likeness_gate(r, 0.5)

    def test_thresholds_count_each_face_once_and_choose_needs_every_subject_within_one_face(self):
        # seed 2 repeats seed 1's faces: percentiles must not weigh them twice
        a1 = run('A', 1, [0, 0, 0], [onehot(0, 0.8)] * 3, [onehot(1, 0.9)] * 2 + [onehot(0, 0.9)], [0.2, 0.3, 0.9])
        a2 = dict(a1, seed=2)
        b = run('B', 1, [2, 2], [onehot(1, 0.7)] * 2, [onehot(2, 0.95)] * 2, [0.6, 0.7])
        t = thresholds([[a1, a2, b]], percentiles=(0, 100))
        self.assertEqual(t, {0: 0.2, 100: 0.9})
        sets = [[a1, b]]
        self.assertEqual(choose(sets, (0.1, 0.35, 0.5)), 0.35)  # 0.35 and 0.5 both keep A's faces: tie -> smaller
        self.assertIsNone(choose(sets, (0.1, 0.75)))  # 0.1 leaves A two faces below; 0.75 takes both of B's gains: a lower mean
        self.assertTrue(qualifies(sets, 0.35))
        self.assertFalse(qualifies(sets, 0.1))


if __name__ == '__main__':
    unittest.main()

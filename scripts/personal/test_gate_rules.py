import unittest

from scripts.personal.dump_fixtures import onehot, run
from scripts.personal.gate_rules import choose, gate, score


class GateTest(unittest.TestCase):
    def test_keeps_the_general_label_only_where_the_general_head_is_sure(self):
        r = run('A', 1, [0, 1], [onehot(0, 0.97), onehot(2, 0.6)], [onehot(3, 0.9), onehot(1, 0.9)])
        self.assertEqual(list(gate(r, 0.95)), [0, 1])  # sure general kept; unsure general overruled
        self.assertEqual(list(gate(r, None)), [3, 1])  # the personal head alone
        r['w'] = 0.3  # a blended model: faces the gate leaves get 0.3 * personal + 0.7 * general, as served
        self.assertEqual(list(gate(r, None)), [0, 2])  # face 1: 0.7 * 0.6 on class 2 beats 0.3 * 0.9 on class 1
        self.assertEqual(list(gate(r, 0.95)), [0, 2])

    def test_score_reports_subjects_more_than_one_face_below_general(self):
        # general right on 3 faces, personal on 1: delta -2 for subject A; subject B unchanged
        a = run('A', 1, [0, 0, 0], [onehot(0, 0.97)] * 3, [onehot(1, 0.9)] * 2 + [onehot(0, 0.9)])
        b = run('B', 1, [2], [onehot(2, 0.5)], [onehot(2, 0.9)])
        mean, right, bad = score([a, b], None)
        self.assertAlmostEqual(mean, (1 / 3 + 1) / 2)
        self.assertEqual(right, 2)
        self.assertEqual(bad, {'A': -2.0})
        mean, right, bad = score([a, b], 0.95)  # the gate keeps A's sure general labels
        self.assertEqual((right, bad), (4, {}))

    def test_choose_prefers_the_best_mean_without_bad_subjects_and_ties_to_the_larger_tau(self):
        a = run('A', 1, [0, 0, 0], [onehot(0, 0.97)] * 3, [onehot(1, 0.9)] * 3)
        self.assertEqual(choose([a], taus=(0.5, 0.9, 0.95)), 0.95)  # all three keep A's faces: tie -> largest
        self.assertIsNone(choose([a], taus=(0.99,)))  # the gate never fires: A stays 3 faces below


if __name__ == '__main__':
    unittest.main()

import unittest

from scripts.personal.dump_fixtures import onehot, run
from scripts.personal.surer_head import choose, judge, surer


class SurerHeadTest(unittest.TestCase):
    def test_the_general_label_where_the_general_head_is_surer_by_the_margin(self):
        # face 0: general 0.8 vs personal 0.5 (general surer by 0.3); face 1: general 0.6 vs personal 0.9
        r = run('A', 1, [0, 1], [onehot(0, 0.8), onehot(2, 0.6)], [onehot(3, 0.5), onehot(1, 0.9)])
        self.assertEqual(list(surer(r, None)), [3, 1])  # the served gate alone (neither general label >= 0.98)
        self.assertEqual(list(surer(r, 0.3)), [0, 1])
        self.assertEqual(list(surer(r, 0.4)), [3, 1])  # 0.3 < 0.4: the personal label stands
        self.assertEqual(list(surer(r, 0.0)), [0, 1])
        sure = run('B', 1, [0], [onehot(0, 0.99)], [onehot(3, 0.999)])
        self.assertEqual(list(surer(sure, 0.5)), [0])  # the served gate still keeps a general label it is >= 0.98 sure of

    def test_a_blended_model_is_compared_as_served(self):
        r = run('A', 1, [0], [onehot(0, 0.8)], [onehot(3, 0.9)])
        self.assertEqual(list(surer(r, 0.0)), [3])  # personal 0.9 surer than general 0.8
        r['w'] = 0.5  # served: 0.5 * personal + 0.5 * general, whose top class is 0.45 + 0.4 / 6 sure
        self.assertEqual(list(surer(r, 0.2)), [0])

    def test_choose_and_judge_need_no_subject_below_one_face_and_no_lower_mean(self):
        # subject A: general right and fairly sure on 3 faces, the personal head wrong and unsure on 2 of them
        a = run('A', 1, [0, 0, 0], [onehot(0, 0.8)] * 3, [onehot(1, 0.4)] * 2 + [onehot(0, 0.9)])
        # subject B: the personal head right and sure where the general head is wrong
        b = run('B', 1, [2, 2], [onehot(1, 0.7)] * 2, [onehot(2, 0.95)] * 2)
        sets = [[a, b]]
        self.assertEqual(choose(sets, margins=(0.1, 0.3, 0.5)), 0.3)  # 0.1 and 0.3 tie at 5 faces -> the larger
        self.assertIsNone(choose(sets, margins=(0.5,)))  # 0.8 - 0.4 < 0.5: A stays two faces below general
        self.assertTrue(judge(sets, 0.3))
        self.assertFalse(judge(sets, 0.5))


if __name__ == '__main__':
    unittest.main()

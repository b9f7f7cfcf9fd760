import unittest

import numpy as np

from scripts.personal.bagged_heads import bags, groups, judge, report
from scripts.personal.dump_fixtures import onehot, run


def subject(id_, seeds, y, g, personal_of_seed):
    return [run(id_, s, y, g, personal_of_seed(s)) for s in seeds]


class BaggedHeadsTest(unittest.TestCase):
    def test_a_bag_is_the_mean_of_its_seeds_personal_probabilities(self):
        y, g = [0, 1], [onehot(0, 0.5), onehot(0, 0.5)]
        runs = subject('A', range(1, 7), y, g, lambda s: [onehot(s % 7, 0.9), onehot(1, 0.3 + s / 10)])
        made = bags(runs, 3)
        self.assertEqual([b['seed'] for b in made], [1, 2])
        np.testing.assert_allclose(made[0]['p'], np.mean([r['p'] for r in runs[:3]], axis=0))
        np.testing.assert_allclose(made[1]['p'], np.mean([r['p'] for r in runs[3:]], axis=0))
        self.assertEqual(len(bags(runs, 4)), 1)  # seeds 5-6 do not make a whole bag of 4

    def test_bags_and_groups_count_from_the_lowest_seed(self):
        y, g = [0], [onehot(0, 0.5)]
        runs = subject('A', range(46, 56), y, g, lambda s: [onehot(s % 7, 0.9)])
        made = bags(runs, 5)
        self.assertEqual(len(made), 2)
        np.testing.assert_allclose(made[1]['p'], np.mean([r['p'] for r in runs[5:]], axis=0))  # seeds 51-55
        self.assertEqual([[r['seed'] for r in grp] for grp in groups(runs)], [[46, 47, 48], [49, 50, 51], [52, 53, 54]])

    def test_a_blended_run_enters_the_bag_as_served(self):
        a = run('A', 1, [0], [onehot(0, 0.6)], [onehot(3, 0.9)])
        a['w'] = 0.5
        b = run('A', 2, [0], [onehot(0, 0.6)], [onehot(3, 0.9)])
        np.testing.assert_allclose(bags([a, b], 2)[0]['p'][0], (0.5 * onehot(3, 0.9) + 0.5 * onehot(0, 0.6) + onehot(3, 0.9)) / 2)

    def test_seeds_that_do_not_share_their_faces_are_refused(self):
        a = run('A', 1, [0], [onehot(0, 0.6)], [onehot(3, 0.9)])
        b = run('A', 2, [1], [onehot(0, 0.6)], [onehot(3, 0.9)])
        with self.assertRaisesRegex(ValueError, 'A: seeds 1-2'):
            bags([a, b], 2)

    def test_groups_of_three_models_and_the_mean_delta_per_group(self):
        # one subject, 4 faces all label 0; the general head right on 2. A model is right on seed-dependent faces.
        y, g = [0, 0, 0, 0], [onehot(0, 0.6)] * 2 + [onehot(1, 0.6)] * 2
        right = {1: 4, 2: 4, 3: 4, 4: 0, 5: 1, 6: 0}
        runs = subject('A', range(1, 7), y, g, lambda s: [onehot(0, 0.9)] * right[s] + [onehot(2, 0.9)] * (4 - right[s]))
        self.assertEqual([[r['seed'] for r in grp] for grp in groups(runs)], [[1, 2, 3], [4, 5, 6]])
        rows, mean = report(runs)
        self.assertEqual([(first, right_, bad) for first, _, right_, bad in rows], [(1, 12, {}), (4, 1, {'A': -1.67})])
        self.assertAlmostEqual(mean, 13 / 24)

    def test_the_rule_wants_every_group_within_one_face_and_no_lower_mean(self):
        # seeds disagree on faces 0-2 (each seed wrong on a different one), so every single head loses one face of
        # the general head's four, and a bag of three is right on all of them: the bag cannot be worse than its heads
        y, g = [0, 0, 0, 0], [onehot(0, 0.6)] * 4
        def personal(s):
            p = [onehot(0, 0.9) for _ in range(4)]
            p[(s - 1) % 3] = onehot(5, 0.5)
            return p
        runs = subject('A', range(1, 19), y, g, personal)
        self.assertTrue(judge([runs]))
        # a subject whose every head loses the same two faces: no bag can give them back
        worse = subject('B', range(1, 19), y, g, lambda s: [onehot(5, 0.9)] * 2 + [onehot(0, 0.9)] * 2)
        self.assertFalse(judge([runs + worse]))
        with self.assertRaisesRegex(ValueError, '5 heads per bag need at least 15'):
            judge([[r for r in runs if r['seed'] <= 12]], k=5)  # two bags of five: not one group


if __name__ == '__main__':
    unittest.main()

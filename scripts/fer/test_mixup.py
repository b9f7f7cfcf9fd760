"""Unit tests of mixup: the draw is reproducible per (seed, step), the first label dominates, and the mixed loss is
the convex combination of the two labels' losses.

  python3 -m unittest scripts/fer/test_mixup.py
"""
import os
import sys
import unittest

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.mixup import mix_batch, mix_weight, mixed_loss  # noqa: E402


class MixupTest(unittest.TestCase):
    def test_weight_is_reproducible_dominant_and_off_at_zero(self):
        self.assertEqual(mix_weight(0.2, 7, 123), mix_weight(0.2, 7, 123))
        draws = [mix_weight(0.4, 1, s) for s in range(200)]
        self.assertTrue(all(0.5 <= d <= 1.0 for d in draws))
        self.assertGreater(len(set(draws)), 150)
        self.assertEqual(mix_weight(0.0, 1, 5), 1.0)

    def test_batch_and_loss_mix_with_the_same_weight(self):
        g = torch.Generator().manual_seed(0)
        x = torch.rand(4, 1, 48, 48, generator=g)
        y = torch.tensor([0, 1, 2, 3])
        perm = torch.tensor([1, 0, 3, 2])
        mixed = mix_batch(x, 0.7, perm)
        torch.testing.assert_close(mixed[0], 0.7 * x[0] + 0.3 * x[1])
        logits = torch.randn(4, 7, generator=g)
        loss = mixed_loss(lambda t: F.cross_entropy(logits, t), y, 0.7, perm)
        expected = 0.7 * F.cross_entropy(logits, y) + 0.3 * F.cross_entropy(logits, y[perm])
        torch.testing.assert_close(loss, expected)
        soft = torch.softmax(torch.randn(4, 7, generator=g), 1)
        kd = mixed_loss(lambda t: -(t * F.log_softmax(logits, 1)).sum(1).mean(), soft, 0.7, perm)
        torch.testing.assert_close(kd, -((0.7 * soft + 0.3 * soft[perm]) * F.log_softmax(logits, 1)).sum(1).mean())
        self.assertIs(mix_batch(x, 1.0, perm), x)


if __name__ == "__main__":
    unittest.main()

"""Unit tests of the model module: the BatchNorm training form folds back into the seed architecture exactly.

  python3 -m unittest scripts/fer/test_model.py
"""
import os
import sys
import unittest

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.model import SeedCNN, fold_batchnorm  # noqa: E402


class FoldBatchnormTest(unittest.TestCase):
    def test_folded_model_equals_the_batchnorm_model_in_eval_mode(self):
        torch.manual_seed(0)
        m = SeedCNN(batchnorm=True)
        m.train()
        with torch.no_grad():
            for _ in range(3):  # non-trivial running statistics
                m(torch.rand(16, 1, 48, 48))
            for mod in m.modules():
                if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                    mod.weight.uniform_(0.5, 1.5)
                    mod.bias.uniform_(-0.2, 0.2)
        m.eval()
        plain = SeedCNN()
        plain.load_state_dict(fold_batchnorm(m))
        plain.eval()
        x = torch.rand(8, 1, 48, 48)
        with torch.no_grad():
            self.assertLess((m(x) - plain(x)).abs().max().item(), 1e-4)

    def test_folded_state_is_the_seed_architecture(self):
        plain_keys = {k: v.shape for k, v in SeedCNN().state_dict().items()}
        folded = fold_batchnorm(SeedCNN(batchnorm=True).eval())
        self.assertEqual({k: v.shape for k, v in folded.items()}, plain_keys)
        self.assertEqual(sum(v.numel() for v in folded.values()), 2345607)  # the seed's parameter count

    def test_a_plain_model_is_returned_as_is(self):
        m = SeedCNN()
        folded = fold_batchnorm(m)
        for k, v in m.state_dict().items():
            self.assertTrue(torch.equal(folded[k], v))


if __name__ == "__main__":
    unittest.main()

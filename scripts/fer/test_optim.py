"""Unit tests of the optimizer choice: SGD is Nesterov with momentum, AdamW stays the default for old checkpoints,
an unknown name is refused, and one SGD step moves the weights the way torch's Nesterov update says.

  python3 -m unittest scripts/fer/test_optim.py
"""
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.optim import checkpoint_optimizer, make_optimizer  # noqa: E402


class OptimTest(unittest.TestCase):
    def test_sgd_is_nesterov_with_momentum(self):
        p = [torch.nn.Parameter(torch.ones(3))]
        opt = make_optimizer(p, "sgd", 0.01, 1e-4)
        self.assertIsInstance(opt, torch.optim.SGD)
        g = opt.param_groups[0]
        self.assertTrue(g["nesterov"])
        self.assertEqual(g["momentum"], 0.9)
        self.assertEqual(g["weight_decay"], 1e-4)

    def test_adamw_by_name(self):
        opt = make_optimizer([torch.nn.Parameter(torch.ones(2))], "adamw", 1e-3, 1e-4)
        self.assertIsInstance(opt, torch.optim.AdamW)

    def test_unknown_name_is_refused(self):
        with self.assertRaisesRegex(ValueError, "unknown optimizer 'adam'"):
            make_optimizer([torch.nn.Parameter(torch.ones(2))], "adam", 1e-3, 0)

    def test_old_checkpoints_were_adamw(self):
        self.assertEqual(checkpoint_optimizer({"lr": 1e-3}), "adamw")
        self.assertEqual(checkpoint_optimizer({"optimizer": "sgd"}), "sgd")

    def test_two_sgd_steps_follow_nesterov(self):
        # loss = sum(w * c): gradient c every step; Nesterov: b1 = g, w1 = w0 - lr (g + m b1); b2 = m b1 + g, ...
        w = torch.nn.Parameter(torch.zeros(2))
        c = torch.tensor([1.0, -2.0])
        opt = make_optimizer([w], "sgd", 0.1, 0.0)
        for _ in range(2):
            opt.zero_grad()
            (w * c).sum().backward()
            opt.step()
        b1 = c
        w1 = -0.1 * (c + 0.9 * b1)
        b2 = 0.9 * b1 + c
        w2 = w1 - 0.1 * (c + 0.9 * b2)
        torch.testing.assert_close(w.detach(), w2)


if __name__ == "__main__":
    unittest.main()

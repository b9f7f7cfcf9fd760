import importlib.util
import os
import unittest

import torch

_spec = importlib.util.spec_from_file_location("train", os.path.join(os.path.dirname(__file__), "..", "train.py"))
train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(train)


def batch(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 48, 48, generator=g)


class AugmentTest(unittest.TestCase):
    def test_every_level_keeps_shape_and_range(self):
        x = batch()
        for level in train.AUGMENT:
            out = train.augment(x, torch.Generator().manual_seed(1), level)
            self.assertEqual(out.shape, x.shape)
            self.assertGreaterEqual(out.min().item(), 0.0)
            self.assertLessEqual(out.max().item(), 1.0)

    def test_flip_level_only_mirrors(self):
        x = batch()
        out = train.augment(x, torch.Generator().manual_seed(1), "flip")
        for i in range(len(x)):
            same = torch.allclose(out[i], x[i], atol=1e-5)
            mirrored = torch.allclose(out[i], torch.flip(x[i], [2]), atol=1e-5)
            self.assertTrue(same or mirrored)

    def test_levels_grow_in_strength(self):
        # a smooth image (so that moving it changes pixels by how far it moves): mean change from the input
        yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 48), indexing="ij")
        x = ((yy + xx) / 2).expand(256, 1, 48, 48).contiguous()
        change = {level: (train.augment(x, torch.Generator().manual_seed(2), level) - x).abs().mean().item()
                  for level in ("light", "medium", "full", "strong")}
        self.assertLess(change["light"], change["medium"])
        self.assertLess(change["medium"], change["full"])
        self.assertLess(change["full"], change["strong"])


if __name__ == "__main__":
    unittest.main()

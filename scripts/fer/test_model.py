"""Unit tests of the model module: every architecture keeps the trunk -> head contract (2048 features), and the
BatchNorm training form folds back into the plain architecture exactly.

  python3 -m unittest scripts/fer/test_model.py
"""
import os
import sys
import unittest

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.model import (ARCHS, FEATURES, SeedCNN, build_model, count_macs, fold_batchnorm,  # noqa: E402
                       trains_with_batchnorm)


def randomise_batchnorm(m):
    """Non-trivial running statistics and affine parameters, so folding has something to get wrong."""
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.rand(16, 1, 48, 48))
        for mod in m.modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    m.eval()
    return m


class FoldBatchnormTest(unittest.TestCase):
    def test_folded_model_equals_the_batchnorm_model_in_eval_mode(self):
        torch.manual_seed(0)
        m = randomise_batchnorm(SeedCNN(batchnorm=True))
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


def receptive_field(trunk) -> tuple:
    """(receptive field in px, stride in px) of the trunk's output features, from its convs and pools in order."""
    rf, jump = 1, 1
    for m in trunk.modules():
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            rf, jump = rf + (k - 1) * jump, jump * s
    return rf, jump


class ArchitecturesTest(unittest.TestCase):
    def test_every_trunk_gives_the_heads_2048_features_in_both_forms(self):
        for arch in ARCHS:
            for bn in (False, True):
                with self.subTest(arch=arch, batchnorm=bn):
                    m = build_model(arch, bn).eval()
                    with torch.no_grad():
                        f = m.trunk(torch.rand(3, 1, 48, 48))
                        logits = m(torch.rand(3, 1, 48, 48))
                    self.assertEqual(tuple(f.shape), (3, FEATURES))
                    self.assertEqual(tuple(logits.shape), (3, 7))
                    self.assertEqual(m.head.fc1.in_features, 2048)  # src/inference/heads/head-shape.ts FEATURES

    def test_candidates_fold_to_their_plain_form_with_the_same_eval_output(self):
        for arch in ARCHS:
            if arch == "seed":
                continue
            with self.subTest(arch=arch):
                torch.manual_seed(1)
                self.assertTrue(trains_with_batchnorm(arch))
                m = randomise_batchnorm(build_model(arch, True))
                state = fold_batchnorm(m)
                self.assertFalse([k for k in state if "bn" in k or "running" in k])
                plain = build_model(arch).eval()
                self.assertEqual(set(state), set(plain.state_dict()))
                plain.load_state_dict(state)
                x = torch.rand(8, 1, 48, 48)
                with torch.no_grad():
                    ref = m(x)
                    self.assertLess((ref - plain(x)).abs().max().item(), 1e-4 * max(1.0, ref.abs().max().item()))
                    self.assertLess((m.trunk(x) - plain.trunk(x)).abs().max().item(), 1e-4)

    def test_macs(self):
        # seed trunk by hand: 46*46*9*32 + 44*44*9*32*64 + 20*20*9*64*128 + 8*8*9*128*128
        self.assertEqual(count_macs(SeedCNN().trunk), 609408 + 35684352 + 29491200 + 9437184)
        self.assertEqual(count_macs(SeedCNN()) - count_macs(SeedCNN().trunk), 2048 * 1024 + 1024 * 7)
        # issue 17's budget for a candidate trunk: more than the seed, and ~100-170 M MACs (<= 3 ms per face on 2 cores)
        for arch in ("seedw", "vgg", "vggs", "vggs4", "res"):
            with self.subTest(arch=arch):
                self.assertTrue(100e6 <= count_macs(build_model(arch).trunk) <= 170e6)

    def test_vggs4_keeps_the_seed_feature_grid_at_the_cost_of_vggs(self):
        # 128 channels x 4 x 4, like the seed (personal heads need the spatial layout), not vggs' 512 x 2 x 2
        m = build_model("vggs4").eval()
        with torch.no_grad():
            before_flatten = m.trunk.layers[:-1](torch.rand(2, 1, 48, 48))
        self.assertEqual(tuple(before_flatten.shape), (2, 128, 4, 4))
        self.assertEqual(count_macs(build_model("vggs4").trunk), count_macs(build_model("vggs").trunk))

    def test_seedw_is_the_seed_with_more_capacity_and_the_same_local_features(self):
        # session 13: the vggs trunks' features each see the whole face and personalise worse than the seed's 24 px ones
        seed, wide = build_model("seed").eval(), build_model("seedw").eval()
        with torch.no_grad():
            self.assertEqual(tuple(wide.trunk.layers[:-1](torch.rand(2, 1, 48, 48)).shape), (2, 128, 4, 4))
        self.assertEqual(receptive_field(wide.trunk), (24, 8))
        self.assertEqual(receptive_field(seed.trunk), (24, 8))
        self.assertGreaterEqual(receptive_field(build_model("vggs4").trunk)[0], 48)
        self.assertGreater(count_macs(wide.trunk), 1.4 * count_macs(seed.trunk))

    def test_seed5_is_the_seed_one_conv_deeper_with_32_px_features_on_its_grid(self):
        # depth where the seed's features form: a 3x3 same conv at 8x8 widens each feature by 8 px, keeps the 4x4 grid
        seed, deep = build_model("seed").eval(), build_model("seed5").eval()
        with torch.no_grad():
            self.assertEqual(tuple(deep.trunk.layers[:-1](torch.rand(2, 1, 48, 48)).shape), (2, 128, 4, 4))
        self.assertEqual(receptive_field(deep.trunk), (32, 8))
        self.assertEqual(count_macs(deep.trunk) - count_macs(seed.trunk), 8 * 8 * 9 * 128 * 128)
        self.assertEqual(sum(isinstance(m, torch.nn.Conv2d) for m in deep.trunk.modules()), 5)

    def test_seed1x1_is_the_seed_one_layer_deeper_with_its_24_px_features(self):
        # depth without a wider receptive field: a 1x1 conv 128 -> 256 at 20x20, the fourth conv reading 256
        seed, point = build_model("seed").eval(), build_model("seed1x1").eval()
        with torch.no_grad():
            self.assertEqual(tuple(point.trunk.layers[:-1](torch.rand(2, 1, 48, 48)).shape), (2, 128, 4, 4))
        self.assertEqual(receptive_field(point.trunk), (24, 8))
        self.assertEqual(count_macs(point.trunk) - count_macs(seed.trunk),
                         20 * 20 * 128 * 256 + 8 * 8 * 9 * (256 - 128) * 128)
        kernels = [m.kernel_size for m in point.trunk.modules() if isinstance(m, torch.nn.Conv2d)]
        self.assertEqual(kernels, [(3, 3), (3, 3), (3, 3), (1, 1), (3, 3)])

    def test_seedds_is_the_seed_with_separable_last_convs_and_its_24_px_features(self):
        # depthwise-separable blocks for the third and fourth convs, 384 channels between them, the seed's grid
        seed, sep = build_model("seed").eval(), build_model("seedds").eval()
        with torch.no_grad():
            self.assertEqual(tuple(sep.trunk.layers[:-1](torch.rand(2, 1, 48, 48)).shape), (2, 128, 4, 4))
        self.assertEqual(receptive_field(sep.trunk), (24, 8))
        # 46*46*9*32 + 44*44*9*32*64, then depthwise 20*20*9*64 + pointwise 20*20*64*384, depthwise 8*8*9*384 +
        # pointwise 8*8*384*128
        self.assertEqual(count_macs(sep.trunk), 609408 + 35684352 + 230400 + 9830400 + 221184 + 3145728)
        self.assertLess(count_macs(sep.trunk), 0.7 * count_macs(seed.trunk))
        convs = [m for m in sep.trunk.modules() if isinstance(m, torch.nn.Conv2d)]
        self.assertEqual([(m.kernel_size, m.groups) for m in convs],
                         [((3, 3), 1), ((3, 3), 1), ((3, 3), 64), ((1, 1), 1), ((3, 3), 384), ((1, 1), 1)])

    def test_unknown_arch_is_refused(self):
        with self.assertRaises(ValueError):
            build_model("nope")


if __name__ == "__main__":
    unittest.main()

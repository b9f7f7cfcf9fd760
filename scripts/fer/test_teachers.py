"""Soft targets (scripts/fer/teachers.py): keys by pixels, a file gives back a checkpoint's probabilities for any
order or subset of the same faces, and refuses faces it has not seen."""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import DataError  # noqa: E402
from fer.model import build_model  # noqa: E402
from fer.teachers import face_keys, file_probs, save_soft_targets, teacher_probs  # noqa: E402


def checkpoint(path, seed):
    torch.manual_seed(seed)
    m = build_model("seed")
    torch.save({"args": {"arch": "seed"}, "best": {"state": m.state_dict()}}, path)


class TeachersTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        rng = np.random.default_rng(3)
        self.images = rng.integers(0, 256, (10, 48, 48), dtype=np.uint8)
        self.x = torch.from_numpy(self.images).float().div_(255).unsqueeze(1)
        self.ck = [os.path.join(self.dir, f"t{i}.pt") for i in (1, 2)]
        for i, p in enumerate(self.ck):
            checkpoint(p, i)
        self.cpu = torch.device("cpu")

    def test_keys_are_per_face_pixels(self):
        keys = face_keys(self.images)
        self.assertEqual(keys.shape, (10, 20))
        again = face_keys(self.images[::-1].copy())
        np.testing.assert_array_equal(again, keys[::-1])
        self.assertEqual(len({k.tobytes() for k in keys}), 10)

    def test_a_file_gives_the_checkpoints_probabilities_for_any_order_and_subset(self):
        plain, mirror = teacher_probs(self.ck, self.x, self.images, self.cpu, use_bf16=False)
        self.assertTrue(torch.allclose(plain.sum(1), torch.ones(10), atol=1e-5))
        self.assertFalse(torch.allclose(plain, mirror))  # the mirror is a different input
        path = os.path.join(self.dir, "targets.npz")
        save_soft_targets(path, face_keys(self.images), plain, mirror, self.ck)
        order = np.array([7, 2, 9, 0])
        got_plain, got_mirror = teacher_probs([path], self.x[order], self.images[order], self.cpu, use_bf16=False)
        self.assertTrue(torch.allclose(got_plain, plain[order], atol=1e-3))  # stored as float16
        self.assertTrue(torch.allclose(got_mirror, mirror[order], atol=1e-3))
        # a file and a checkpoint average like two checkpoints
        mixed, _ = teacher_probs([path, self.ck[0]], self.x, self.images, self.cpu, use_bf16=False)
        first, _ = teacher_probs([self.ck[0]], self.x, self.images, self.cpu, use_bf16=False)
        self.assertTrue(torch.allclose(mixed, (plain + first) / 2, atol=1e-3))

    def test_refuses_faces_it_has_not_seen_and_files_that_are_not_soft_targets(self):
        plain, mirror = teacher_probs(self.ck[:1], self.x[:5], self.images[:5], self.cpu, use_bf16=False)
        path = os.path.join(self.dir, "half.npz")
        save_soft_targets(path, face_keys(self.images[:5]), plain, mirror, self.ck[:1])
        with self.assertRaisesRegex(DataError, "5 of 10 faces have no soft targets"):
            file_probs(path, face_keys(self.images))
        bad = os.path.join(self.dir, "bad.npz")
        np.savez(bad, images=self.images)
        with self.assertRaisesRegex(DataError, "not a soft-target file"):
            file_probs(bad, face_keys(self.images))


if __name__ == "__main__":
    unittest.main()

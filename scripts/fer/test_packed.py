"""Packed datasets (scripts/fer/packed.py): the same arrays back, both compressions, bad files refused clearly."""
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import DataError, load, load_packed  # noqa: E402
from fer.packed import main, save_packed  # noqa: E402


def faces(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), np.arange(n, dtype=np.int64) % 7


class PackedTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def test_round_trip_both_compressions_through_load(self):
        images, labels = faces()
        for name in ("a.npz", "a.npz.xz"):
            path = os.path.join(self.dir, name)
            save_packed(images, labels, path)
            got_images, got_labels, report = load(path)
            np.testing.assert_array_equal(got_images, images)
            np.testing.assert_array_equal(got_labels, labels)
            self.assertEqual(report.skipped, 0)
            self.assertFalse(os.path.exists(path + ".tmp"))

    def test_refuses_usage_wrong_shapes_labels_and_garbage(self):
        images, labels = faces()
        path = os.path.join(self.dir, "a.npz")
        save_packed(images, labels, path)
        self.assertEqual(len(load(path, usage="Training")[0]), len(images))  # one split, like a folder: usage is a CSV's
        bad = os.path.join(self.dir, "bad.npz")
        np.savez(bad, images=images[:, :40], labels=labels)
        with self.assertRaisesRegex(DataError, "uint8 N x 48 x 48"):
            load_packed(bad)
        np.savez(bad, images=images, labels=labels + 7)
        with self.assertRaisesRegex(DataError, "labels must be 0..6"):
            load_packed(bad)
        with open(bad, "wb") as f:
            f.write(b"not a zip")
        with self.assertRaisesRegex(DataError, "not a packed dataset"):
            load_packed(bad)
        with self.assertRaisesRegex(DataError, "no such file"):
            load_packed(os.path.join(self.dir, "missing.npz.xz"))
        with self.assertRaisesRegex(DataError, "ends in"):
            save_packed(images, labels, os.path.join(self.dir, "a.zip"))

    def test_cli_packs_a_folder(self):
        from PIL import Image

        images, labels = faces(7)
        for i, (img, lab) in enumerate(zip(images, labels)):
            d = os.path.join(self.dir, "src", ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"][lab])
            os.makedirs(d, exist_ok=True)
            Image.fromarray(img).save(os.path.join(d, f"{i}.png"))
        out = os.path.join(self.dir, "out.npz.xz")
        self.assertEqual(main([os.path.join(self.dir, "src"), out]), 0)
        got, got_labels, _ = load(out)
        names = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
        order = sorted(range(7), key=lambda i: names[labels[i]])  # label folders are read in name order, one face each
        np.testing.assert_array_equal(got, images[order])
        np.testing.assert_array_equal(got_labels, labels[order])
        self.assertEqual(main([os.path.join(self.dir, "nothing"), os.path.join(self.dir, "x.npz")]), 2)


if __name__ == "__main__":
    unittest.main()

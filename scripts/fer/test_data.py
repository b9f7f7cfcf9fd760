"""Loader tests for scripts/fer/data.py: both formats, bad input reported with file and line, --strict fatal; the
seeded validation split that train.py and export.py share."""
import os
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import (LABELS, DataError, area_resize, is_levelled, level_passes, levelling_mismatch, limit_rows,  # noqa: E402
                      load_csv, load_folder, run_rows, split_indices, to_gray)

PIX = " ".join(["7"] * 2304)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


class CsvTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "fer.csv")

    def test_good_rows_and_usage_filter(self):
        write(self.path, f"emotion,pixels,Usage\n3,{PIX},Training\n5,{PIX},PublicTest\n0,{PIX},PrivateTest\n")
        x, y, rep = load_csv(self.path, usage="PublicTest")
        self.assertEqual(x.shape, (1, 48, 48))
        self.assertEqual(y.tolist(), [5])
        self.assertEqual(int(x[0, 0, 0]), 7)
        self.assertEqual(rep.skipped, 0)

    def test_bad_rows_are_counted_with_line_numbers(self):
        short = " ".join(["1"] * 100)
        write(self.path, f"emotion,pixels,Usage\n3,{PIX},Training\n9,{PIX},Training\n2,{short},Training\n"
                         f"1,{PIX},Nope\n4,{PIX.replace('7', 'x', 1)},Training\n")
        x, y, rep = load_csv(self.path)
        self.assertEqual(y.tolist(), [3])
        self.assertEqual(rep.skipped, 4)
        self.assertIn("fer.csv:3: unknown emotion label '9'", rep.problems[0])
        self.assertIn("fer.csv:4: expected 2304 pixels, got 100", rep.problems[1])
        self.assertIn("fer.csv:5: unknown Usage 'Nope'", rep.problems[2])

    def test_strict_makes_first_problem_fatal(self):
        write(self.path, f"emotion,pixels,Usage\n3,{PIX},Training\n9,{PIX},Training\n")
        with self.assertRaisesRegex(DataError, r"fer.csv:3: unknown emotion label"):
            load_csv(self.path, strict=True)

    def test_missing_column(self):
        write(self.path, f"label,pixels\n3,{PIX}\n")
        with self.assertRaisesRegex(DataError, r"fer.csv:1: missing column 'emotion'"):
            load_csv(self.path)


class FolderTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def img(self, label, name, size=(48, 48), mode="L"):
        os.makedirs(os.path.join(self.dir, label), exist_ok=True)
        Image.new(mode, size, 100 if mode == "L" else (200, 100, 50)).save(os.path.join(self.dir, label, name))

    def test_good_and_bad_files(self):
        self.img("happy", "a.jpg")
        self.img("sad", "b.png", size=(96, 96), mode="RGB")
        write(os.path.join(self.dir, "happy", "notes.txt"), "hello")
        write(os.path.join(self.dir, "happy", "broken.jpg"), "not a jpeg")
        os.makedirs(os.path.join(self.dir, "bored"))
        x, y, rep = load_folder(self.dir)
        self.assertEqual(sorted(y.tolist()), [3, 4])
        self.assertEqual(rep.skipped, 3)
        text = "\n".join(rep.problems)
        self.assertIn("unknown label folder 'bored'", text)
        self.assertIn("broken.jpg: unreadable image", text)
        self.assertIn("notes.txt: not an image file", text)

    def test_empty_folder(self):
        with self.assertRaisesRegex(DataError, "no label folders"):
            load_folder(self.dir)
        os.makedirs(os.path.join(self.dir, "happy"))
        with self.assertRaisesRegex(DataError, "no images found"):
            load_folder(self.dir)

    def test_strict(self):
        self.img("happy", "a.jpg")
        write(os.path.join(self.dir, "happy", "broken.jpg"), "x")
        with self.assertRaisesRegex(DataError, "broken.jpg: unreadable image"):
            load_folder(self.dir, strict=True)


class PreprocessTests(unittest.TestCase):
    def test_luma_matches_pil(self):
        rng = np.random.default_rng(0)
        rgb = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
        img = Image.fromarray(rgb, "RGB")
        self.assertTrue(np.array_equal(to_gray(img), np.asarray(img.convert("L"))))

    def test_area_resize_of_constant_and_blocks(self):
        self.assertTrue((area_resize(np.full((96, 96), 9, np.uint8)) == 9).all())
        blocks = np.kron(np.arange(48 * 48, dtype=np.int64).reshape(48, 48) % 256, np.ones((2, 2))).astype(np.uint8)
        self.assertTrue(np.array_equal(area_resize(blocks), (np.arange(48 * 48).reshape(48, 48) % 256).astype(np.uint8)))


class SplitTests(unittest.TestCase):
    # 30 faces cycling through the 7 classes, plus 5 more 'happy': class sizes 5,4,4,10,4,4,4
    labels = np.array([i % 7 for i in range(30)] + [3] * 5, dtype=np.int64)

    def test_partition_stratified_per_class(self):
        tr, va = split_indices(self.labels, 0.25, 7)
        self.assertEqual(sorted(tr.tolist() + va.tolist()), list(range(len(self.labels))))
        self.assertEqual(tr.tolist(), sorted(tr.tolist()))
        self.assertEqual(va.tolist(), sorted(va.tolist()))
        for c in range(len(LABELS)):
            n = int((self.labels == c).sum())
            self.assertEqual(int((self.labels[va] == c).sum()), int(round(n * 0.25)), LABELS[c])

    def test_seeded(self):
        a, b = split_indices(self.labels, 0.25, 7), split_indices(self.labels, 0.25, 7)
        self.assertTrue(np.array_equal(a[1], b[1]))
        self.assertFalse(np.array_equal(a[1], split_indices(self.labels, 0.25, 8)[1]))
        # the slice train.py drew before split_indices moved here: export.py must rebuild the same one from a
        # checkpoint's seed, or a validation face would land in the replay set
        self.assertEqual(a[1].tolist(), [1, 5, 6, 14, 16, 17, 24, 25])

    def test_zero_fraction_and_missing_classes(self):
        tr, va = split_indices(np.array([3, 3, 3], dtype=np.int64), 0.0, 1)
        self.assertEqual((tr.tolist(), va.tolist()), ([0, 1, 2], []))
        self.assertEqual(va.dtype, np.int64)

class RunRowsTests(unittest.TestCase):
    """A run's data read again (export.py, refit_head.py) must be the rows and split train.py used."""

    def test_limit_rows_is_seeded_and_off_at_zero(self):
        images, labels = np.arange(40, dtype=np.uint8).reshape(10, 2, 2), np.arange(10) % 7
        a, b = limit_rows(images, labels, 4, 3), limit_rows(images, labels, 4, 3)
        self.assertEqual(len(a[1]), 4)
        self.assertTrue(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
        self.assertTrue((np.diff(a[0][:, 0, 0]) > 0).all())  # kept in file order
        self.assertIs(limit_rows(images, labels, 0, 3)[0], images)

    def test_run_rows_applies_the_checkpoint_args(self):
        d = tempfile.mkdtemp()
        path = os.path.join(d, "fer.csv")
        rows = [f"{i % 7},{' '.join([str(i)] * 2304)},Training" for i in range(30)]
        write(path, "emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
        args = {"seed": 5, "split_seed": 9, "val_fraction": 0.25, "limit": 20}
        images, labels, tr, va = run_rows(path, args)
        x, y, _ = load_csv(path)
        x, y = limit_rows(x, y, 20, 5)
        self.assertTrue(np.array_equal(images, x) and np.array_equal(labels, y))
        want = split_indices(y, 0.25, 9)
        self.assertTrue(np.array_equal(tr, want[0]) and np.array_equal(va, want[1]))


class LevelledFolderTests(unittest.TestCase):
    def test_passes_come_from_align_fer_report(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual((is_levelled(d), level_passes(d)), (False, 0))
            write(os.path.join(d, "align-report.json"), '{"passes": 3}')
            self.assertEqual((is_levelled(d), level_passes(d)), (True, 3))
            # reports from before --passes existed were one pass
            write(os.path.join(d, "align-report.json"), '{"faces": 10}')
            self.assertEqual(level_passes(d), 1)
        self.assertEqual(level_passes("no/such/folder.csv"), 0)

    def test_a_run_stays_on_the_kind_of_faces_it_recorded(self):
        with tempfile.TemporaryDirectory() as d:
            plain = os.path.join(d, "plain")
            os.makedirs(plain)
            write(os.path.join(d, "align-report.json"), '{"passes": 3}')
            self.assertIsNone(levelling_mismatch({}, d))  # runs from before session 17 record nothing
            self.assertIsNone(levelling_mismatch({"levelled": True}, d))  # session 17 recorded the kind only
            self.assertIsNone(levelling_mismatch({"levelled": True, "level_passes": 3}, d))
            self.assertIn("was trained on unlevelled faces", levelling_mismatch({"levelled": False, "level_passes": 0}, d))
            self.assertIn("was trained on levelled faces", levelling_mismatch({"levelled": True, "level_passes": 3}, plain))
            self.assertIn("levelled in 1 pass(es)", levelling_mismatch({"levelled": True, "level_passes": 1}, d))


if __name__ == "__main__":
    unittest.main()

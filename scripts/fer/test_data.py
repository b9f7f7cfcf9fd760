"""Loader tests for scripts/fer/data.py: both formats, bad input reported with file and line, --strict fatal."""
import os
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fer.data import DataError, area_resize, load_csv, load_folder, to_gray  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()

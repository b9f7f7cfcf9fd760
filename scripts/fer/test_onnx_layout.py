"""scripts/fer/onnx_layout.py finds the head's raw_data byte ranges in an ONNX file; the committed graph files and
layout are what scripts/build_head_train_graph.py makes today (so nobody hand-edits them or forgets to rebuild)."""
import json
import os
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.dirname(HERE)
GENERAL = os.path.join(SCRIPTS, "..", "models", "general")
sys.path.insert(0, SCRIPTS)
from fer.onnx_layout import LayoutError, head_layout, layout_path, write_head_layout  # noqa: E402

SMALL = [("fc1.weight", [4, 6]), ("fc1.bias", [4]), ("fc2.weight", [3, 4]), ("fc2.bias", [3])]


def small_model(path, *, bias_as_float_data=False, drop=None, dims=None, decoy=True):
    """trunk weights + head.* initializers; with a decoy initializer holding exactly fc2.bias's bytes."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((5, 6)).astype(np.float32), "trunk.w")]
    for name, shape in SMALL:
        if name == drop:
            continue
        a = rng.standard_normal(dims if dims and name == "fc1.weight" else shape).astype(np.float32)
        t = numpy_helper.from_array(a, "head." + name)
        if bias_as_float_data and name == "fc2.bias":
            t = helper.make_tensor("head." + name, TensorProto.FLOAT, shape, a.tolist())  # float_data, no raw_data
        inits.append(t)
        if decoy and name == "fc2.bias":
            inits.append(numpy_helper.from_array(a.copy(), "other.copy_of_bias"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 6])
    graph = helper.make_graph([helper.make_node("Add", ["x", "trunk.w"], ["y"])], "g", [x], [y], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


class LayoutTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "expression.onnx")

    def test_offsets_point_at_each_initializers_bytes(self):
        small_model(self.path)
        layout = head_layout(self.path, SMALL)
        data = bytearray(open(self.path, "rb").read())
        self.assertEqual((layout["bytes"], layout["model"]), (len(data), "expression.onnx"))
        self.assertRegex(layout["sha256"], r"^[0-9a-f]{64}$")
        # overwrite each range with new values: onnx reads exactly those back, everything else is unchanged
        written = {}
        for i, (name, dims) in enumerate(SMALL):
            p = layout["params"][name]
            self.assertEqual((p["initializer"], p["dims"], p["length"]), ("head." + name, dims, 4 * int(np.prod(dims))))
            written[name] = np.arange(np.prod(dims), dtype="<f4").reshape(dims) + 100 * (i + 1)
            data[p["offset"]:p["offset"] + p["length"]] = written[name].tobytes()
        before = {t.name: numpy_helper.to_array(t) for t in onnx.load(self.path).graph.initializer}
        after = {t.name: numpy_helper.to_array(t) for t in onnx.load_model_from_string(bytes(data)).graph.initializer}
        for name, _ in SMALL:
            np.testing.assert_array_equal(after["head." + name], written[name])
        for name in ("trunk.w", "other.copy_of_bias"):  # the decoy has fc2.bias's bytes but is not it
            np.testing.assert_array_equal(after[name], before[name])

    def test_write_next_to_the_model(self):
        small_model(self.path)
        out = write_head_layout(self.path, params=SMALL)
        self.assertEqual(out, os.path.join(self.dir, "expression.head-layout.json"))
        self.assertEqual(layout_path(self.path), out)
        with open(out) as f:
            self.assertEqual(json.load(f)["params"]["fc2.bias"]["dims"], [3])

    def test_refuses_what_it_cannot_overwrite_in_place(self):
        cases = [({"drop": "fc1.bias"}, r"0 initializers named \*fc1.bias"),
                 ({"dims": [4, 5]}, r"head.fc1.weight is type 1 \[4, 5\], expected float32 \[4, 6\]"),
                 ({"bias_as_float_data": True, "decoy": False}, r"head.fc2.bias has 0 bytes of raw_data")]
        for kwargs, message in cases:
            small_model(self.path, **kwargs)
            with self.assertRaisesRegex(LayoutError, message):
                head_layout(self.path, SMALL)


class CommittedFilesTests(unittest.TestCase):
    """models/general holds what the build script produces from the committed expression.onnx."""

    def setUp(self):
        if not os.path.exists(os.path.join(GENERAL, "expression.onnx")):
            self.skipTest("no models/general/expression.onnx")

    def test_layout_matches_expression_onnx(self):
        with open(os.path.join(GENERAL, "expression.head-layout.json")) as f:
            committed = json.load(f)
        self.assertEqual(committed, head_layout(os.path.join(GENERAL, "expression.onnx")))

    def test_graphs_are_what_the_build_makes(self):
        import build_head_train_graph as b

        for model, name in ((b.build_forward(), "head-forward.onnx"), (b.build(), "head-train-step.onnx")):
            with open(os.path.join(GENERAL, name), "rb") as f:
                self.assertEqual(f.read(), model.SerializeToString(), f"{name}: run scripts/build_head_train_graph.py")

    def test_forward_graph_shape(self):
        import build_head_train_graph as b

        m = b.build_forward()
        self.assertEqual((m.ir_version, m.opset_import[0].version, m.graph.name), (8, 17, "head_forward"))
        self.assertEqual([n.op_type for n in m.graph.node], ["Gemm", "Relu", "Gemm"])
        names = [i.name for i in m.graph.input]
        self.assertEqual(names, ["features", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        self.assertEqual(len(m.graph.initializer), 0)  # weights are fed per user


if __name__ == "__main__":
    unittest.main()

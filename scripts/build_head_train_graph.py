#!/usr/bin/env python3
"""Build the head's ONNX graphs (opset 17) and the head layout of expression.onnx:

  /usr/bin/python3 scripts/build_head_train_graph.py [--out models/general/head-train-step.onnx]
      [--forward-out models/general/head-forward.onnx] [--expression models/general/expression.onnx]
      [--manifest models/manifest.json]

  head-train-step.onnx   the training step as ONE graph: forward, loss, backward by hand, AdamW update (build())
  head-forward.onnx      logits = Gemm(Relu(Gemm(features, fc1.weight^T, fc1.bias)), fc2.weight^T, fc2.bias)
                         (build_forward()): one session serves the general head and every user's head
  expression.head-layout.json
                         byte ranges of the head's initializers in expression.onnx (scripts/fer/onnx_layout.py), so
                         the server writes a user's head over them to export a personal model
  The sha256 and size of each file go into the manifest's general.files (when the manifest has a general entry).

Neither graph holds weights: everything arrives as inputs, so TypeScript keeps the weights and Adam moments as ORT
tensors and feeds a step's outputs back as the next step's inputs (ping-pong buffers, no per-step copies).

Head (scripts/fer/model.py): logits = fc2(dropout(relu(fc1(x)))), weights in PyTorch layout (out x in).

Inputs  (B = batch, dynamic)
  fc1.weight [1024,2048] fc1.bias [1024] fc2.weight [7,1024] fc2.bias [7]
  m.<param>, v.<param>   Adam first/second moments, same shapes
  step []                1-based step number t (bias correction), float
  lr [] weight_decay []  AdamW (decoupled decay, as torch.optim.AdamW); betas 0.9/0.999, eps 1e-8 are constants
  label_smoothing []     target = onehot*(1-s) + s/7 (as F.cross_entropy(label_smoothing=s))
  features [B,2048]      frozen trunk features
  targets [B,7]          one-hot labels
  sample_weights [B]     loss = sum_i w_i * CE_i / sum_i w_i
  dropout_mask [B,1024]  0 or 1/(1-p), drawn by the caller (deterministic graph)
Outputs
  new.<param>, new.m.<param>, new.v.<param>, loss [], correct [] (argmax(logits) == argmax(targets), unweighted)

Gradients (d = dL/d·, n = sum w):
  dlogits = (softmax(logits) - target) * w / n
  dW2 = dlogits^T @ hd      db2 = sum_rows dlogits     dhd = dlogits @ W2
  dz1 = dhd * mask * [z1 > 0]
  dW1 = dz1^T @ x           db1 = sum_rows dz1
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fer.onnx_layout import CLASSES, FEATURES, HEAD_PARAMS as PARAMS, HIDDEN, write_head_layout  # noqa: E402

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
IR_VERSION, OPSET = 8, 17


def build() -> onnx.ModelProto:
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    counter = [0]

    def node(op: str, inputs: list[str], out: str | None = None, **attrs) -> str:
        counter[0] += 1
        out = out or f"t{counter[0]}_{op}"
        nodes.append(helper.make_node(op, inputs, [out], name=f"n{counter[0]}_{op}", **attrs))
        return out

    def const(name: str, value: float) -> str:
        inits.append(helper.make_tensor(name, TensorProto.FLOAT, [], [value]))
        return name

    def ints(name: str, values: list[int]) -> str:
        inits.append(helper.make_tensor(name, TensorProto.INT64, [len(values)], values))
        return name

    f = TensorProto.FLOAT
    inputs = []
    for p, shape in PARAMS:
        inputs.append(helper.make_tensor_value_info(p, f, shape))
    for p, shape in PARAMS:
        inputs.append(helper.make_tensor_value_info(f"m.{p}", f, shape))
        inputs.append(helper.make_tensor_value_info(f"v.{p}", f, shape))
    for s in ["step", "lr", "weight_decay", "label_smoothing"]:
        inputs.append(helper.make_tensor_value_info(s, f, []))
    inputs += [
        helper.make_tensor_value_info("features", f, ["B", FEATURES]),
        helper.make_tensor_value_info("targets", f, ["B", CLASSES]),
        helper.make_tensor_value_info("sample_weights", f, ["B"]),
        helper.make_tensor_value_info("dropout_mask", f, ["B", HIDDEN]),
    ]

    one = const("c.one", 1.0)
    axis0 = ints("c.axis0", [0])
    axis1 = ints("c.axis1", [1])
    col = ints("c.col", [-1, 1])

    # ---- forward
    z1 = node("Gemm", ["features", "fc1.weight", "fc1.bias"], "z1", transB=1)
    h = node("Relu", [z1], "h")
    hd = node("Mul", [h, "dropout_mask"], "hd")
    logits = node("Gemm", [hd, "fc2.weight", "fc2.bias"], "logits", transB=1)
    logp = node("LogSoftmax", [logits], "logp", axis=1)
    prob = node("Exp", [logp], "prob")

    # target = onehot*(1-s) + s/K
    keep = node("Sub", [one, "label_smoothing"])
    spread = node("Div", ["label_smoothing", const("c.classes", float(CLASSES))])
    target = node("Add", [node("Mul", ["targets", keep]), spread], "target")

    # loss = sum(w * -sum(target*logp)) / sum(w)
    ce = node("Neg", [node("ReduceSum", [node("Mul", [target, logp]), axis1], keepdims=0)], "ce")
    wsum = node("ReduceSum", ["sample_weights"], "wsum", keepdims=0)
    node("Div", [node("ReduceSum", [node("Mul", [ce, "sample_weights"])], keepdims=0), wsum], "loss")

    pred = node("ArgMax", [logits], axis=1, keepdims=0)
    truth = node("ArgMax", ["targets"], axis=1, keepdims=0)
    node("ReduceSum", [node("Cast", [node("Equal", [pred, truth])], to=TensorProto.FLOAT)], "correct", keepdims=0)

    # ---- backward
    wn = node("Reshape", [node("Div", ["sample_weights", wsum]), col])  # [B,1]
    dlogits = node("Mul", [node("Sub", [prob, target]), wn], "dlogits")
    grads = {
        "fc2.weight": node("Gemm", [dlogits, hd], "g.fc2.weight", transA=1),
        "fc2.bias": node("ReduceSum", [dlogits, axis0], "g.fc2.bias", keepdims=0),
    }
    dhd = node("MatMul", [dlogits, "fc2.weight"], "dhd")
    # mask * [z1 > 0]: dropout_mask is already 0 where dropped, relu gate where z1 <= 0
    gate = node("Mul", ["dropout_mask", node("Cast", [node("Greater", [z1, const("c.zero", 0.0)])], to=TensorProto.FLOAT)])
    dz1 = node("Mul", [dhd, gate], "dz1")
    grads["fc1.weight"] = node("Gemm", [dz1, "features"], "g.fc1.weight", transA=1)
    grads["fc1.bias"] = node("ReduceSum", [dz1, axis0], "g.fc1.bias", keepdims=0)

    # ---- AdamW (torch.optim.AdamW, amsgrad=False):
    #   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
    #   p -= (lr / (1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
    # rewritten with per-step scalars so each 2M-element tensor sees as few elementwise passes as possible:
    #   p -= m / (sqrt(v) * a + b),  a = (1-b1^t) / (lr sqrt(1-b2^t)),  b = eps (1-b1^t) / lr
    b1, b2 = const("c.b1", BETA1), const("c.b2", BETA2)
    bc1 = node("Sub", [one, node("Pow", [b1, "step"])], "bc1")
    bc2 = node("Sub", [one, node("Pow", [b2, "step"])], "bc2")
    a = node("Div", [bc1, node("Mul", ["lr", node("Sqrt", [bc2])])], "adam_a")
    b = node("Div", [node("Mul", [const("c.eps", EPS), bc1]), "lr"], "adam_b")
    decay = node("Sub", [one, node("Mul", ["lr", "weight_decay"])], "decay")
    one_m_b1 = const("c.1mb1", 1.0 - BETA1)
    one_m_b2 = const("c.1mb2", 1.0 - BETA2)

    outputs = []
    for p, shape in PARAMS:
        g = grads[p]
        # m + (g - m)(1-b1) == b1 m + (1-b1) g
        m = node("Add", [f"m.{p}", node("Mul", [node("Sub", [g, f"m.{p}"]), one_m_b1])], f"new.m.{p}")
        v = node("Add", [f"v.{p}", node("Mul", [node("Sub", [node("Mul", [g, g]), f"v.{p}"]), one_m_b2])], f"new.v.{p}")
        denom = node("Add", [node("Mul", [node("Sqrt", [v]), a]), b])
        node("Sub", [node("Mul", [p, decay]), node("Div", [m, denom])], f"new.{p}")
        outputs += [
            helper.make_tensor_value_info(f"new.{p}", f, shape),
            helper.make_tensor_value_info(f"new.m.{p}", f, shape),
            helper.make_tensor_value_info(f"new.v.{p}", f, shape),
        ]
    outputs += [helper.make_tensor_value_info("loss", f, []), helper.make_tensor_value_info("correct", f, [])]

    graph = helper.make_graph(nodes, "head_train_step", inputs, outputs, inits)
    return _model(graph)


def build_forward(features: int = FEATURES, hidden: int = HIDDEN, classes: int = CLASSES) -> onnx.ModelProto:
    """The head's forward pass with its weights as graph inputs (no initializers): features [N,F] -> logits [N,C]."""
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("Gemm", ["features", "fc1.weight", "fc1.bias"], ["z1"], name="fc1", transB=1),
        helper.make_node("Relu", ["z1"], ["h"], name="relu"),
        helper.make_node("Gemm", ["h", "fc2.weight", "fc2.bias"], ["logits"], name="fc2", transB=1),
    ]
    inputs = [
        helper.make_tensor_value_info("features", f, ["N", features]),
        helper.make_tensor_value_info("fc1.weight", f, [hidden, features]),
        helper.make_tensor_value_info("fc1.bias", f, [hidden]),
        helper.make_tensor_value_info("fc2.weight", f, [classes, hidden]),
        helper.make_tensor_value_info("fc2.bias", f, [classes]),
    ]
    outputs = [helper.make_tensor_value_info("logits", f, ["N", classes])]
    return _model(helper.make_graph(nodes, "head_forward", inputs, outputs))


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="iexpressionnet")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def _save(model: onnx.ModelProto, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)
    print(f"wrote {path} ({len(model.graph.node)} nodes)")


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def update_manifest(manifest_path: str, paths: list[str]) -> None:
    """Record sha256 and size of the files written into manifest.general.files (only files in general.dir)."""
    if not os.path.exists(manifest_path):
        return
    with open(manifest_path) as f:
        manifest = json.load(f)
    general = manifest.get("general")
    if not general:
        return
    folder = os.path.join(os.path.dirname(os.path.abspath(manifest_path)), general.get("dir", "general"))
    files = general.setdefault("files", {})
    for p in paths:
        if os.path.dirname(os.path.abspath(p)) == folder:
            files[os.path.basename(p)] = {"sha256": _sha256(p), "bytes": os.path.getsize(p)}
    tmp = manifest_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, manifest_path)
    print(f"updated {manifest_path}")


def main(argv=None) -> int:
    models = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    general = os.path.join(models, "general")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(general, "head-train-step.onnx"))
    ap.add_argument("--forward-out", default=os.path.join(general, "head-forward.onnx"))
    ap.add_argument("--expression", default=os.path.join(general, "expression.onnx"),
                    help="exported model whose head layout to write beside it (skipped when the file is absent)")
    ap.add_argument("--manifest", default=os.path.join(models, "manifest.json"))
    args = ap.parse_args(argv)
    written = []
    for model, path in ((build(), args.out), (build_forward(), args.forward_out)):
        _save(model, path)
        written.append(path)
    if os.path.exists(args.expression):
        written.append(write_head_layout(args.expression))
        print(f"wrote {written[-1]}")
    else:
        print(f"no {args.expression}: head layout not written (scripts/export.py writes it with the model)")
    update_manifest(args.manifest, written)
    return 0


if __name__ == "__main__":
    sys.exit(main())

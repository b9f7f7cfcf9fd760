#!/usr/bin/env python3
"""Build the head's training step as ONE ONNX graph (opset 17): forward, loss, backward by hand, AdamW update.

  /usr/bin/python3 scripts/build_head_train_graph.py [--out models/general/head-train-step.onnx]

The graph holds no weights: everything arrives as inputs, so TypeScript keeps the weights and Adam moments as ORT
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
import os

import onnx
from onnx import TensorProto, helper

FEATURES, HIDDEN, CLASSES = 2048, 1024, 7
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
PARAMS = [("fc1.weight", [HIDDEN, FEATURES]), ("fc1.bias", [HIDDEN]), ("fc2.weight", [CLASSES, HIDDEN]), ("fc2.bias", [CLASSES])]


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
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="iexpressionnet")
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "models", "general", "head-train-step.onnx"))
    args = ap.parse_args()
    model = build()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(model, args.out)
    print(f"wrote {args.out} ({len(model.graph.node)} nodes)")


if __name__ == "__main__":
    main()

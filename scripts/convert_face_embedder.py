#!/usr/bin/env python3
"""Convert face-api's dlib face descriptor (tfjs weights) into models/face-embedding/face-embedding.onnx.

Source: node_modules/@vladmandic/face-api/model/face_recognition_model-weights_manifest.json + .bin: the dlib
ResNet-34-like face recognition network (dlib_face_recognition_resnet_model_v1, Davis King, public domain / CC0)
as re-exported by face-api (MIT). The graph reproduces face-api's src/faceRecognitionNet exactly:

  x = (rgb - [122.782, 117.001, 104.298]) / 255
  conv7x7/2 valid + scale + relu → maxpool 3/2 valid
  residual ×3 (32) → residualDown + residual ×3 (64) → residualDown + residual ×2 (128)
  → residualDown + residual ×2 (256) → residualDown (256)
  → global mean → matmul fc [256,128]                                   = "descriptor" (face-api's output)
  → divided by its L2 norm                                               = "embedding"

Layers: conv (+bias) then a per-channel affine "scale" layer (dlib's affine = frozen batch-norm); here the scale is
folded into the conv weights and bias (in float64, stored float32). residualDown adds an avg-pooled shortcut, zero-
padded on the channel axis (channel doubling) and, where the strided conv's output is one pixel smaller than the
pooled shortcut, zero-pads the conv output at the bottom and right (what face-api's concat of zeros does).

Input contract: "input" float32 [N,150,150,3], RGB, 0..255 (NHWC, no normalisation by the caller), an aligned face.

Weights: uint8-quantised tensors are dequantised as tfjs does (q * scale + min, computed in float64, stored float32).
The output is byte-for-byte deterministic: same inputs → same file (no timestamps, fixed names, fixed order).

Usage: /usr/bin/python3 scripts/convert_face_embedder.py [--src DIR] [--out FILE] [--manifest FILE|'']
(needs python3-onnx, numpy). The "faceEmbedding" entry of models/manifest.json (sha256, bytes, input contract,
licence) is rewritten in place, other entries are kept; --manifest '' leaves every manifest alone.
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SRC = os.path.join(ROOT, "node_modules", "@vladmandic", "face-api", "model")
DEFAULT_OUT = os.path.join(ROOT, "models", "face-embedding", "face-embedding.onnx")
DEFAULT_MANIFEST = os.path.join(ROOT, "models", "manifest.json")
MEAN_RGB = [122.782, 117.001, 104.298]
INPUT_SIZE = 150
OPSET = 13


def load_weights(src):
    """name → float32 ndarray, read sequentially from the .bin as the manifest lists them (tfjs layout)."""
    with open(os.path.join(src, "face_recognition_model-weights_manifest.json")) as f:
        manifest = json.load(f)
    weights = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(src, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"])) if spec["shape"] else 1
            q = spec.get("quantization")
            if q:
                if q["dtype"] != "uint8":
                    raise ValueError(f"{spec['name']}: unsupported quantisation {q['dtype']}")
                raw = np.frombuffer(blob, dtype=np.uint8, count=count, offset=offset)
                offset += count
                values = (raw.astype(np.float64) * q["scale"] + q["min"]).astype(np.float32)
            else:
                if spec["dtype"] != "float32":
                    raise ValueError(f"{spec['name']}: unsupported dtype {spec['dtype']}")
                values = np.frombuffer(blob, dtype="<f4", count=count, offset=offset).astype(np.float32)
                offset += 4 * count
            weights[spec["name"]] = values.reshape(spec["shape"])
        if offset != len(blob):
            raise ValueError(f"weights file has {len(blob)} bytes, manifest describes {offset}")
    return weights


class Builder:
    def __init__(self, weights):
        self.w = weights
        self.nodes = []
        self.inits = []
        self.n = 0

    def name(self, hint):
        self.n += 1
        return f"{hint}_{self.n}"

    def const(self, hint, array):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, hint, **attrs):
        out = self.name(hint)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, prefix, stride, same, relu):
        """tfjs conv2d(filters [kh,kw,in,out]) + bias, then scale (x*w + b), folded into one ONNX Conv."""
        filt = self.w[f"{prefix}/conv/filters"].astype(np.float64)
        bias = self.w[f"{prefix}/conv/bias"].astype(np.float64)
        sw = self.w[f"{prefix}/scale/weights"].astype(np.float64)
        sb = self.w[f"{prefix}/scale/biases"].astype(np.float64)
        kernel = filt.transpose(3, 2, 0, 1) * sw[:, None, None, None]  # [out,in,kh,kw]
        b = bias * sw + sb
        kh = kernel.shape[2]
        pads = [kh // 2] * 4 if same else [0, 0, 0, 0]
        out = self.op(
            "Conv",
            [x, self.const(prefix + "/W", kernel.astype(np.float32)), self.const(prefix + "/B", b.astype(np.float32))],
            prefix.replace("/", "_"),
            kernel_shape=[kh, kh],
            strides=[stride, stride],
            pads=pads,
        )
        return self.op("Relu", [out], prefix.replace("/", "_") + "_relu") if relu else out

    def residual(self, x, prefix):
        out = self.conv(x, prefix + "/conv1", 1, True, True)
        out = self.conv(out, prefix + "/conv2", 1, True, False)
        return self.op("Relu", [self.op("Add", [out, x], prefix + "_add")], prefix + "_relu")

    def residual_down(self, x, prefix, channels_in, spatial_in):
        out = self.conv(x, prefix + "/conv1", 2, False, True)
        out = self.conv(out, prefix + "/conv2", 1, True, False)
        channels_out = self.w[prefix + "/conv2/conv/filters"].shape[3]
        conv_spatial = (spatial_in - 3) // 2 + 1
        pooled_spatial = spatial_in // 2
        pooled = self.op("AveragePool", [x], prefix + "_pool", kernel_shape=[2, 2], strides=[2, 2])
        if conv_spatial != pooled_spatial:
            grow = pooled_spatial - conv_spatial
            out = self.op("Pad", [out, self.const(prefix + "_padhw", np.array([0, 0, 0, 0, 0, 0, grow, grow], np.int64))], prefix + "_padhw")
        if channels_out != channels_in:
            grow = channels_out - channels_in
            pooled = self.op("Pad", [pooled, self.const(prefix + "_padc", np.array([0, 0, 0, 0, 0, grow, 0, 0], np.int64))], prefix + "_padc")
        added = self.op("Add", [pooled, out], prefix + "_add")
        return self.op("Relu", [added], prefix + "_relu"), channels_out, pooled_spatial


def build(weights):
    b = Builder(weights)
    x = b.op("Transpose", ["input"], "nchw", perm=[0, 3, 1, 2])
    mean = np.array(MEAN_RGB, np.float32).reshape(1, 3, 1, 1)
    x = b.op("Sub", [x, b.const("mean_rgb", mean)], "centre")
    x = b.op("Div", [x, b.const("scale255", np.array(255, np.float32))], "scale")
    x = b.conv(x, "conv32_down", 2, False, True)
    spatial = (INPUT_SIZE - 7) // 2 + 1
    x = b.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2])
    spatial = (spatial - 3) // 2 + 1
    channels = 32
    for stage in ["conv32_1", "conv32_2", "conv32_3"]:
        x = b.residual(x, stage)
    for down, rest in [
        ("conv64_down", ["conv64_1", "conv64_2", "conv64_3"]),
        ("conv128_down", ["conv128_1", "conv128_2"]),
        ("conv256_down", ["conv256_1", "conv256_2"]),
        ("conv256_down_out", []),
    ]:
        x, channels, spatial = b.residual_down(x, down, channels, spatial)
        for stage in rest:
            x = b.residual(x, stage)
    x = b.op("GlobalAveragePool", [x], "gap")
    x = b.op("Flatten", [x], "flatten", axis=1)
    b.nodes.append(helper.make_node("MatMul", [x, b.const("fc", weights["fc"])], ["descriptor"], name="fc"))
    norm = b.op("ReduceL2", ["descriptor"], "norm", axes=[1], keepdims=1)
    norm = b.op("Max", [norm, b.const("eps", np.array(1e-12, np.float32))], "norm_eps")
    b.nodes.append(helper.make_node("Div", ["descriptor", norm], ["embedding"], name="l2"))

    graph = helper.make_graph(
        b.nodes,
        "dlib_face_descriptor",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", INPUT_SIZE, INPUT_SIZE, 3])],
        [
            helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", 128]),
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 128]),
        ],
        b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="iexpressionnet-convert_face_embedder")
    model.ir_version = 7
    model.doc_string = (
        "dlib face descriptor (public domain / CC0, Davis King) via @vladmandic/face-api (MIT). "
        "input: float32 [N,150,150,3] RGB 0..255 aligned face; descriptor: face-api's raw 128-d output; embedding: descriptor / ||descriptor||"
    )
    onnx.checker.check_model(model)
    return model


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_manifest(path, src, filename, data):
    manifest = {}
    if os.path.exists(path):
        with open(path) as f:
            manifest = json.load(f)
    manifest["faceEmbedding"] = {
        "dir": "face-embedding",
        "files": {filename: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}},
        "input": {
            "name": "input",
            "shape": ["N", INPUT_SIZE, INPUT_SIZE, 3],
            "dtype": "float32",
            "range": [0, 255],
            "preprocess": "RGB, NHWC, 0..255, no normalisation by the caller (the graph subtracts mean RGB "
            + str(MEAN_RGB) + " and divides by 255, as face-api does); the face warped by a similarity transform "
            "from YuNet's 5 landmarks to the template in src/inference/embedding/face-align.ts",
        },
        "outputs": {
            "descriptor": "[N,128] the dlib/face-api descriptor, unnormalised",
            "embedding": "[N,128] descriptor / L2 norm (what matching uses)",
        },
        "architecture": "dlib_face_recognition_resnet_model_v1: ResNet-34-like, 29 conv layers, 150x150 RGB -> 128-d (face-api's FaceRecognitionNet)",
        "source": {
            "package": "@vladmandic/face-api (npm)",
            "files": {
                "model/face_recognition_model-weights_manifest.json": sha256_file(os.path.join(src, "face_recognition_model-weights_manifest.json")),
                "model/face_recognition_model.bin": sha256_file(os.path.join(src, "face_recognition_model.bin")),
            },
            "conversion": "scripts/convert_face_embedder.py (uint8 weights dequantised, scale layers folded into the convs)",
        },
        "licence": "Weights: dlib face recognition model by Davis E. King, public domain (CC0 1.0); conversion from face-api "
        "(MIT, Vladimir Mandic / Vincent Muehler). See models/face-embedding/LICENSE.",
    }
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=DEFAULT_SRC)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--manifest", default=DEFAULT_MANIFEST, help="models manifest to record the file in; '' = none")
    args = ap.parse_args()
    model = build(load_weights(args.src))
    data = model.SerializeToString(deterministic=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    if args.manifest:
        write_manifest(args.manifest, args.src, os.path.basename(args.out), data)
    print(json.dumps({"out": args.out, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}))


if __name__ == "__main__":
    sys.exit(main())

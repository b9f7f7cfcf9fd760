"""Where the FC head's weights sit inside an exported expression.onnx, so TypeScript can write a user's head over them.

  /usr/bin/python3 scripts/fer/onnx_layout.py models/general/expression.onnx   (writes expression.head-layout.json)

A personal model (GET /api/users/:id/models/:version/onnx) is the general expression.onnx with the bytes of its four
head initializers replaced: same shapes, same byte lengths, so the rest of the file (graph, trunk weights) stays
byte-for-byte the general model's. The byte ranges are found here, with the onnx library, once per export; the server
reads the JSON (src/inference/heads/head-layout.ts) and checks the file's sha256 and length before trusting the offsets.

Layout JSON (next to the model, `<stem>.head-layout.json`):
  {"format": 1, "model": "expression.onnx", "sha256": <hex of the whole file>, "bytes": <file length>,
   "dtype": "float32", "byteOrder": "little",
   "params": {"fc1.weight": {"initializer": "head.fc1.weight", "dims": [1024, 2048], "offset": <raw_data start>,
                             "length": <raw_data bytes>}, "fc1.bias": ..., "fc2.weight": ..., "fc2.bias": ...}}
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys

FEATURES, HIDDEN, CLASSES = 2048, 1024, 7
# the head's parameters in head.f32 order, PyTorch layout (out x in); src/personalization/finetune/head-weights.ts
HEAD_PARAMS = [("fc1.weight", [HIDDEN, FEATURES]), ("fc1.bias", [HIDDEN]), ("fc2.weight", [CLASSES, HIDDEN]),
               ("fc2.bias", [CLASSES])]
LAYOUT_FORMAT = 1
LAYOUT_SUFFIX = ".head-layout.json"


class LayoutError(Exception):
    pass


def layout_path(model_path: str) -> str:
    """models/general/expression.onnx -> models/general/expression.head-layout.json"""
    stem, _ = os.path.splitext(model_path)
    return stem + LAYOUT_SUFFIX


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _find_once(data: bytes, needle: bytes) -> int | None:
    """Offset of the only occurrence of needle; None when it is absent or occurs more than once."""
    at = data.find(needle)
    if at < 0 or data.find(needle, at + 1) >= 0:
        return None
    return at


def _raw_offset(data: bytes, tensor) -> int:
    """Absolute offset of tensor.raw_data in the file bytes.

    First the whole serialized TensorProto (it carries the name, so it cannot match another initializer's bytes); if a
    writer ordered its fields differently, the raw_data field itself (tag 9, length-delimited) with its length prefix.
    Either must occur exactly once, and the bytes found are compared with raw_data.
    """
    raw = tensor.raw_data
    whole = tensor.SerializeToString()
    at = _find_once(data, whole)
    if at is not None:
        offset = at + len(whole) - len(raw)
    else:
        field = b"\x4a" + _varint(len(raw))  # (9 << 3) | 2
        at = _find_once(data, field + raw)
        if at is None:
            raise LayoutError(f"{tensor.name}: its raw_data does not occur exactly once in the file")
        offset = at + len(field)
    if data[offset:offset + len(raw)] != raw:
        raise LayoutError(f"{tensor.name}: bytes at offset {offset} are not its raw_data")
    return offset


def head_layout(model_path: str, params=HEAD_PARAMS) -> dict:
    """The layout of the head initializers of an ONNX file (named `<param>` or `*.<param>`, float32, raw_data)."""
    import onnx
    from onnx import TensorProto

    with open(model_path, "rb") as f:
        data = f.read()
    model = onnx.load_model_from_string(data)
    inits = list(model.graph.initializer)
    out = {}
    for name, dims in params:
        hits = [t for t in inits if t.name == name or t.name.endswith("." + name)]
        if len(hits) != 1:
            raise LayoutError(f"{model_path}: {len(hits)} initializers named *{name} (expected 1)")
        t = hits[0]
        if t.data_type != TensorProto.FLOAT or list(t.dims) != dims:
            raise LayoutError(f"{model_path}: {t.name} is type {t.data_type} {list(t.dims)}, expected float32 {dims}")
        if t.data_location == TensorProto.EXTERNAL:
            raise LayoutError(f"{model_path}: {t.name} is stored outside the file (external data)")
        length = 4 * math.prod(dims)
        if len(t.raw_data) != length:
            raise LayoutError(f"{model_path}: {t.name} has {len(t.raw_data)} bytes of raw_data, expected {length} "
                              "(export with raw tensors, as torch.onnx.export does)")
        out[name] = {"initializer": t.name, "dims": dims, "offset": _raw_offset(data, t), "length": length}
    ranges = sorted((p["offset"], p["offset"] + p["length"], n) for n, p in out.items())
    for (s0, e0, n0), (s1, _, n1) in zip(ranges, ranges[1:]):
        if s1 < e0:
            raise LayoutError(f"{model_path}: {n0} and {n1} overlap")
    return {"format": LAYOUT_FORMAT, "model": os.path.basename(model_path),
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "dtype": "float32", "byteOrder": "little",
            "params": out}


def write_head_layout(model_path: str, out_path: str | None = None, params=HEAD_PARAMS) -> str:
    """Compute the layout and write it next to the model (temp file + rename). Returns the path written."""
    layout = head_layout(model_path, params)
    out_path = out_path or layout_path(model_path)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(layout, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out_path)
    return out_path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        path = write_head_layout(argv[0], argv[1] if len(argv) == 2 else None)
    except (LayoutError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

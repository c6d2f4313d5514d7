"""Identity of a build by what it computes, not by its file bytes.

Two FINN builds of one checkpoint with one configuration compute the same function, but their
`dataflow_python.onnx` files need not be equal byte for byte: tensor names made by
`make_new_valueinfo_name` are random, and FINN's attributes may hold absolute paths of its
temporary folders. A point key built on the file's SHA-256 then changes on every rebuild, and a
resumed sweep computes every point again and stores it twice.

`build_digest` hashes the graph's meaning instead: per node in graph order its op type, domain
and attributes (paths left out), each input as "initializer contents" or "output j of node i"
(never a tensor name), the initializers' dtype, shape, bytes and FINN data type, and the graph's
input and output shapes and data types. So weights, thresholds, folding (PE, SIMD) and the
injector configuration all count; names, paths and serialisation details do not.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from noisybnn.errors import InputFileError, MissingInputError

#: Bump when the digest's definition changes (old tables then get new keys).
DIGEST_VERSION = "noisybnn-build-digest-1"

#: Attributes that say where FINN put files, not what the node computes.
PATH_ATTRIBUTES = frozenset({
    "code_gen_dir_cppsim", "code_gen_dir_ipgen", "executable_path", "ipgen_path", "ip_path",
    "ip_vlnv", "gen_top_module", "rtlsim_so", "rtlsim_trace", "hls_sources", "model",
})


def _attr_value(attr):
    from onnx import helper

    v = helper.get_attribute_value(attr)
    if isinstance(v, bytes):
        v = v.decode(errors="replace")
    if isinstance(v, (list, tuple)):
        v = [x.decode(errors="replace") if isinstance(x, bytes) else x for x in v]
    if hasattr(v, "SerializeToString"):  # tensor / graph attribute: its canonical bytes
        return hashlib.sha256(v.SerializeToString(deterministic=True)).hexdigest()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, list):
        return [repr(x) if isinstance(x, float) else x for x in v]
    return v


def _is_path(name: str, value) -> bool:
    return name in PATH_ATTRIBUTES or (isinstance(value, str) and value.startswith("/"))


def _array_digest(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def graph_description(model) -> dict:
    """The canonical, name-free description of an ONNX ModelProto that `build_digest` hashes."""
    from onnx import numpy_helper

    g = model.graph
    finn_types = {}
    for ann in g.quantization_annotation:
        for kv in ann.quant_parameter_tensor_names:
            if kv.key == "finn_datatype":
                finn_types[ann.tensor_name] = kv.value
    inits = {t.name: t for t in g.initializer}
    graph_inputs = {vi.name: i for i, vi in enumerate(g.input) if vi.name not in inits}
    producers: dict[str, tuple[int, int]] = {}
    nodes = []
    for i, node in enumerate(g.node):
        ins = []
        for name in node.input:
            if not name:
                ins.append(None)
            elif name in inits:
                ins.append({"init": _array_digest(numpy_helper.to_array(inits[name])),
                            "type": finn_types.get(name, "")})
            elif name in producers:
                ins.append({"node": producers[name], "type": finn_types.get(name, "")})
            elif name in graph_inputs:
                ins.append({"input": graph_inputs[name], "type": finn_types.get(name, "")})
            else:
                raise InputFileError(f"node {i} ({node.op_type}) reads tensor {name!r} that no "
                                     "earlier node makes: the graph is not in topological order")
        attrs = {}
        for a in node.attribute:
            value = _attr_value(a)
            if not _is_path(a.name, value):
                attrs[a.name] = value
        nodes.append({"op": node.op_type, "domain": node.domain, "attrs": attrs, "in": ins})
        for j, name in enumerate(node.output):
            producers[name] = (i, j)

    def io(vi):
        t = vi.type.tensor_type
        return {"elem": t.elem_type, "shape": [d.dim_value if d.HasField("dim_value") else None
                                               for d in t.shape.dim],
                "type": finn_types.get(vi.name, ""),
                "from": producers.get(vi.name)}

    return {"version": DIGEST_VERSION, "nodes": nodes,
            "inputs": [io(vi) for vi in g.input if vi.name not in inits],
            "outputs": [io(vi) for vi in g.output]}


def build_digest(onnx_path: str | Path) -> str:
    """64 hex digits: SHA-256 of the canonical description of an executable twin."""
    import onnx

    path = Path(onnx_path)
    if not path.is_file():
        raise MissingInputError(f"{path} not found: run `noisybnn estimate --model MODEL` first")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for a bad file
        raise InputFileError(f"{path} is not a readable ONNX file ({type(exc).__name__}); "
                             "rebuild it with `noisybnn estimate --force`") from None
    text = json.dumps(graph_description(model), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def point_key(params: dict) -> str:
    """16 hex digits of SHA-256 over a point's parameters (JSON, sorted keys).

    The parameters must name the build by `build_digest` (sim) or the bitfile's SHA-256 (pynq),
    the checkpoint's SHA-256, the data split and size, mode, eps, seed, layers and faults."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]

"""Reading our dataflow graphs without FINN: a node's attributes as plain Python values."""

from __future__ import annotations


def node_attributes(node) -> dict:
    """name -> value of an ONNX node's attributes, strings decoded from bytes."""
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out

"""The board's address map, read from Vivado's hardware handoff (.hwh) as PYNQ reads it.

PYNQ (`pynqmetadata.frontends.hwh_frontend`, the parser behind `pynq.Overlay.ip_dict`) takes the
AXI-Lite slaves from the MEMRANGE elements of the processing system's MEMORYMAP: MEMTYPE
"REGISTER", INSTANCE (the block-design cell), SLAVEBUSINTERFACE, BASEVALUE, HIGHVALUE
(range = HIGH - BASE + 1). In a FINN Zynq build the cells are the DMAs (`idma0`, `odma0`) and
the dataflow partitions (`StreamingDataflowPartition_k`), never the FINN nodes inside them: a
node is found through FINN's own partition bookkeeping (each StreamingDataflowPartition node of
the final model carries its child model and, after MakeZYNQProject, its `instance_name`).
No FINN import at module level: `noisybnn board addresses` runs anywhere.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from noisybnn.errors import InputFileError, MissingInputError

#: MODTYPEs of the processing systems whose memory map PYNQ reads.
PS_MODTYPES = ("processing_system7", "zynq_ultra_ps_e", "versal_cips")


@dataclass(frozen=True)
class Slave:
    """One AXI-Lite slave in the PS's address map."""

    instance: str
    interface: str
    base: int
    range: int

    def line(self) -> str:
        return f"{self.instance:32s} {self.interface:18s} {self.base:#010x} {self.range:#x}"


def read_hwh(path: str | Path) -> list[Slave]:
    """The register-type slaves the PS can reach, in file order (PYNQ's ip_dict entries)."""
    p = Path(path)
    if not p.is_file():
        raise MissingInputError(f"{p}: no such .hwh file")
    try:
        root = ET.parse(str(p)).getroot()
    except ET.ParseError as exc:
        raise InputFileError(f"{p} is not a hardware handoff file: {exc}") from None
    ps = [m for m in root.iter("MODULE") if m.get("MODTYPE") in PS_MODTYPES]
    if not ps:
        raise InputFileError(f"{p} has no processing-system MODULE ({', '.join(PS_MODTYPES)})")
    slaves = []
    for module in ps:
        for mr in module.iter("MEMRANGE"):
            if mr.get("MEMTYPE") != "REGISTER":
                continue
            try:
                base = int(mr.get("BASEVALUE", ""), 16)
                high = int(mr.get("HIGHVALUE", ""), 16)
            except ValueError:
                raise InputFileError(
                    f"{p}: MEMRANGE of {mr.get('INSTANCE')!r} has no hex BASEVALUE/HIGHVALUE"
                ) from None
            slaves.append(Slave(mr.get("INSTANCE", ""), mr.get("SLAVEBUSINTERFACE", ""), base,
                                high - base + 1))
    return slaves


def format_slaves(slaves: list[Slave]) -> str:
    head = f"{'instance':32s} {'interface':18s} {'base':10s} range"
    return "\n".join([head] + [s.line() for s in slaves])


def injector_partitions(model) -> dict[int, str]:
    """{layer index: block-design cell} of every injector, from the final model's partitions.

    The join key is the injector's own `layer_index` attribute: inside a partition FINN renames
    its nodes (`StreamingDataflowPartition_3_NoiseInjector_rtl_0` for the estimates'
    `NoiseInjector_rtl_1`), and the cell is the partition node's `instance_name` (set by
    MakeZYNQProject; the node name before that)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from noisybnn.compile.registry import register_ops
    from noisybnn.compile.transforms import injectors

    register_ops()
    out: dict[int, str] = {}
    for node in model.graph.node:
        if node.op_type != "StreamingDataflowPartition":
            continue
        sdp = getCustomOp(node)
        cell = sdp.get_nodeattr("instance_name") or node.name
        for inj in injectors(ModelWrapper(sdp.get_nodeattr("model"))):
            layer = getCustomOp(inj).get_nodeattr("layer_index")
            if layer in out:
                raise InputFileError(f"two injectors for layer {layer} ({out[layer]}, {cell})")
            out[layer] = cell
    return out


def injector_bases(slaves: list[Slave], carriers: dict[int, str],
                   source: str = "the .hwh") -> dict[int, int]:
    """{layer: AXI-Lite base} of each injector: the one slave of the cell that carries it.

    Raises InputFileError if a cell has no or several AXI-Lite slaves, or carries two injectors
    (the address would be ambiguous)."""
    by_cell: dict[str, list[Slave]] = {}
    for s in slaves:
        by_cell.setdefault(s.instance, []).append(s)
    cells = list(carriers.values())
    shared = sorted({c for c in cells if cells.count(c) > 1})
    if shared:
        raise InputFileError(f"{', '.join(shared)} carry several injectors; each needs its own partition")
    out = {}
    for layer, cell in sorted(carriers.items()):
        found = by_cell.get(cell, [])
        if len(found) != 1:
            raise InputFileError(
                f"{source}: {cell} (carrying the injector of layer {layer}) has {len(found)} "
                "AXI-Lite slaves, expected 1"
            )
        out[layer] = found[0].base
    return out

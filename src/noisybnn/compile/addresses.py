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


def partition_of_nodes(model) -> dict[str, str]:
    """{FINN node name: block-design instance} from the final model's partition nodes."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    out = {}
    for node in model.graph.node:
        if node.op_type != "StreamingDataflowPartition":
            continue
        sdp = getCustomOp(node)
        instance = sdp.get_nodeattr("instance_name") or node.name
        for inner in ModelWrapper(sdp.get_nodeattr("model")).graph.node:
            out[inner.name] = instance
    return out


def injector_bases(slaves: list[Slave], partitions: dict[str, str], names: list[str],
                   source: str = "the .hwh") -> dict[str, int]:
    """Base address of each injector node: its partition's AXI-Lite slave.

    Raises InputFileError if an injector has no partition, or its partition no slave, or a
    partition carries two AXI-Lite nodes (the address would be ambiguous)."""
    by_instance: dict[str, list[Slave]] = {}
    for s in slaves:
        by_instance.setdefault(s.instance, []).append(s)
    out = {}
    for name in names:
        inst = partitions.get(name)
        if inst is None:
            raise InputFileError(f"injector {name} is in no dataflow partition of the build")
        found = by_instance.get(inst, [])
        if len(found) != 1:
            raise InputFileError(
                f"{source}: partition {inst} (carrying {name}) has {len(found)} AXI-Lite slaves, "
                "expected 1"
            )
        out[name] = found[0].base
    carriers: dict[str, list[str]] = {}
    for name in names:
        carriers.setdefault(partitions[name], []).append(name)
    shared = {i: n for i, n in carriers.items() if len(n) > 1}
    if shared:
        raise InputFileError(f"partitions carry several injectors: {shared}")
    return out

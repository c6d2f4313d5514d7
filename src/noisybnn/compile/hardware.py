"""After FINN's bitfile step: the files FINN wrote, the injectors' addresses, the board bundle.

File names are FINN's (`build_dataflow_steps.copy_and_rename_bitfiles`): Zynq
`bitfile/finn-accel.bit` + `finn-accel.hwh`; Alveo `bitfile/finn-accel-0.xclbin` for one device
(read from the final model's `bitfile_output`, not guessed). Addresses: the .hwh's PS memory map
(`addresses.read_hwh`) joined with FINN's partition bookkeeping (`addresses.injector_partitions`),
by layer index.
"""

from __future__ import annotations

import json
from pathlib import Path

from noisybnn.compile.addresses import injector_bases, injector_partitions, read_hwh
from noisybnn.compile.paths import MANIFEST
from noisybnn.compile.targets import is_alveo
from noisybnn.errors import MissingInputError, ToolMissingError

#: finn-plus's Zynq shell feeds its clocking wizard from FCLK0 fixed at 100 MHz
#: (templates.py: PCW_FPGA0_PERIPHERAL_FREQMHZ {100}); the design clock comes from the wizard.
ZYNQ_FCLK0_MHZ = 100.0


def final_model(build_dir: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    path = build_dir / "intermediate_models" / "step_synthesize_bitfile.onnx"
    if not path.is_file():
        raise MissingInputError(f"{path} not found: the FINN build did not reach step_synthesize_bitfile")
    return ModelWrapper(str(path))


def bitfile_of(build_dir: Path, model, target: dict) -> Path:
    """The bitfile FINN stored (its `bitfile_output` metadata), checked to exist."""
    raw = model.get_metadata_prop("bitfile_output")
    if raw is None:
        raise MissingInputError(f"{build_dir}: the final model records no bitfile_output")
    path = Path(next(iter(json.loads(raw).values()))) if is_alveo(target) else Path(raw)
    if not path.is_file():
        raise MissingInputError(f"the FINN build produced no bitfile at {path}")
    return path


def finish_hardware_build(build_dir: Path, target: dict) -> Path:
    """Record bitfile, I/O shapes and injector addresses in the manifest; make the bundle."""
    from finn.util.basic import get_driver_shapes

    from noisybnn.backends.pynq import bundle, complete_manifest

    model = final_model(build_dir)
    bitfile = bitfile_of(build_dir, model, target)
    carriers = injector_partitions(model)
    manifest = json.loads((build_dir / MANIFEST).read_text())
    names = {i["layer"]: i["name"] for i in manifest.get("injectors", [])}
    if set(names) != set(carriers):
        raise MissingInputError(
            f"the manifest has injectors for layers {sorted(names)}, the bitstream's partitions "
            f"for layers {sorted(carriers)}"
        )
    if is_alveo(target):
        raise ToolMissingError(
            "the Alveo host side is not done: injector addresses come from the xclbin at run time "
            f"(XRT IP layout of {', '.join(sorted(carriers.values()))}); see docs/hardware.md"
        )
    hwh = bitfile.with_suffix(".hwh")
    bases = injector_bases(read_hwh(hwh), carriers, source=str(hwh))
    complete_manifest(build_dir, bitfile, platform="zynq-iodma",
                      io_shape_dict=get_driver_shapes(model),
                      axilite_bases={names[k]: b for k, b in bases.items()},
                      instances={names[k]: c for k, c in carriers.items()}, fclk_mhz=ZYNQ_FCLK0_MHZ)
    bundle(build_dir / "bundle", bitfile, build_dir / MANIFEST)
    return bitfile

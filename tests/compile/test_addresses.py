"""Injector addresses as PYNQ finds them, on a .hwh structured like a FINN Zynq build whose
partitions FINN itself made (InsertIODMA + Floorplan + CreateDataflowPartition, as ZynqBuild)."""

import json
import subprocess
from pathlib import Path

import pytest
from qonnx.core.modelwrapper import ModelWrapper

from noisybnn.cli import main
from noisybnn.compile.addresses import injector_bases, injector_partitions, read_hwh
from noisybnn.compile.paths import ESTIMATES
from noisybnn.errors import InputFileError
from tests.compile._hwh import finn_zynq_hwh

ROOT = Path(__file__).resolve().parents[2]
PYNQMD_PY = ROOT / "build" / "pynqmd-venv" / "bin" / "python"


@pytest.fixture(scope="module")
def partitioned(build_of, tmp_path_factory):
    """FINN's own Zynq partitioning of the TFC build (each AXI-Lite node in its own partition)."""
    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition
    from finn.transformation.fpgadataflow.floorplan import Floorplan
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_iodma import InsertIODMA
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames

    from noisybnn.compile.finn_env import prepare_finn

    prepare_finn()
    bdir = build_of("tfc-w1a1")
    model = ModelWrapper(str(bdir / "intermediate_models" / "step_generate_estimate_reports.onnx"))
    out = tmp_path_factory.mktemp("partitions")
    # ZynqBuild's own preparation, in its order (make_zynq_proj.py)
    for trn in (InsertIODMA(32), InsertDWC(), SpecializeLayers("xc7z020clg400-1"), Floorplan(),
                CreateDataflowPartition(partition_model_dir=str(out))):
        model = model.transform(trn).transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    return bdir, model


def test_injectors_found_through_their_partitions(partitioned, tmp_path):
    bdir, model = partitioned
    carriers = injector_partitions(model)  # {layer: cell}, from FINN's partition nodes
    layers = [i["layer"] for i in json.loads((bdir / ESTIMATES).read_text())["injectors"]]
    sdps = [n.name for n in model.graph.node if n.op_type == "StreamingDataflowPartition"]
    assert sorted(carriers) == layers == [0, 1, 2]
    assert len(set(carriers.values())) == 3
    assert all(c.startswith("StreamingDataflowPartition_") for c in carriers.values())
    text, cells = finn_zynq_hwh(sdps, set(carriers.values()))
    hwh = tmp_path / "finn-accel.hwh"
    hwh.write_text(text)
    slaves = read_hwh(hwh)
    assert [s.instance for s in slaves][0] == "idma0" and slaves[-1].instance == "odma0"
    bases = injector_bases(slaves, carriers)
    by_cell = {s.instance: s.base for s in slaves}
    assert [bases[k] for k in layers] == [by_cell[carriers[k]] for k in layers]
    assert len(set(bases.values())) == 3 and all(b % 0x1000 == 0 for b in bases.values())


def test_shared_partition_is_refused(partitioned, tmp_path):
    _, model = partitioned
    sdps = [n.name for n in model.graph.node if n.op_type == "StreamingDataflowPartition"]
    text, _ = finn_zynq_hwh(sdps, set(sdps[1:-1]))
    hwh = tmp_path / "x.hwh"
    hwh.write_text(text)
    with pytest.raises(InputFileError, match="carry several injectors"):
        injector_bases(read_hwh(hwh), {0: sdps[2], 1: sdps[2]})
    with pytest.raises(InputFileError, match="has 0 AXI-Lite slaves"):
        injector_bases(read_hwh(hwh), {0: "StreamingDataflowPartition_99"})


def test_board_addresses_cli(partitioned, tmp_path, capsys):
    _, model = partitioned
    sdps = [n.name for n in model.graph.node if n.op_type == "StreamingDataflowPartition"]
    text, _ = finn_zynq_hwh(sdps, set(sdps[1:-1]))
    hwh = tmp_path / "x.hwh"
    hwh.write_text(text)
    assert main(["board", "addresses", str(hwh)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["idma0", "s_axi_control_0", "0x40000000"]
    assert len(out) == 1 + len(sdps)


def test_bad_hwh_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.hwh"
    bad.write_text("<EDKSYSTEM><MODULES></MODULES></EDKSYSTEM>")
    assert main(["board", "addresses", str(bad)]) == 2
    assert "no processing-system MODULE" in capsys.readouterr().err


@pytest.mark.skipif(not PYNQMD_PY.is_file(), reason="no side venv with PyPI pynqmetadata 0.2.0 "
                    "(python -m venv build/pynqmd-venv && build/pynqmd-venv/bin/pip install "
                    "pynqmetadata==0.2.0)")
def test_same_map_as_pynqmetadata(partitioned, tmp_path):
    """PYNQ's own parser (pynqmetadata, numpy-free but kept out of the main venv) reads the
    same bases and ranges from the fixture, and from PYNQ's own resizer.hwh."""
    _, model = partitioned
    sdps = [n.name for n in model.graph.node if n.op_type == "StreamingDataflowPartition"]
    text, _ = finn_zynq_hwh(sdps, set(sdps[1:-1]))
    hwh = tmp_path / "finn.hwh"
    hwh.write_text(text)
    code = ("import json,sys; from pynqmetadata.frontends import Metadata;"
            "from pynqmetadata.frontends.hwh_frontend import HwhFrontend;"
            "m=Metadata(sys.argv[1]); out={};"
            "[out.__setitem__(b.name+'/'+p.name,[p.baseaddr,p.range]) for b in m.blocks.values() "
            "for p in b.ports.values() if getattr(p,'baseaddr',None) is not None and p.range];"
            "print(json.dumps(out))")
    resizer = next(PYNQMD_PY.parents[1].glob("lib/python*/site-packages/pynqmetadata/tests/hwhs/resizer.hwh"))
    for path in (hwh, resizer):
        proc = subprocess.run([str(PYNQMD_PY), "-c", code, str(path)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 0, proc.stderr[-500:]
        theirs = {k: tuple(v) for k, v in json.loads(proc.stdout).items()}
        ours = {f"{s.instance}/{s.interface}": (s.base, s.range) for s in read_hwh(path)}
        assert ours.items() <= theirs.items(), (ours, theirs)
        assert ours




def test_finish_hardware_build_records_addresses(partitioned, tmp_path):
    """The bitstream step's bookkeeping on FINN's partitioned model: the bitfile FINN names,
    the injectors' cells and bases from the .hwh, FCLK0 100 MHz, and a bundle."""
    from noisybnn.compile.hardware import finish_hardware_build
    from noisybnn.compile.paths import MANIFEST
    from noisybnn.compile.targets import load_target

    bdir, model = partitioned
    build = tmp_path / "build"
    (build / "intermediate_models").mkdir(parents=True)
    (build / "bitfile").mkdir()
    for name in (MANIFEST, "dataflow_python.onnx"):
        (build / name).write_bytes((bdir / name).read_bytes())
    bit = build / "bitfile" / "finn-accel.bit"
    bit.write_bytes(b"\x00" * 64)
    from qonnx.custom_op.registry import getCustomOp

    sdps = [n for n in model.graph.node if n.op_type == "StreamingDataflowPartition"]
    text, cells = finn_zynq_hwh([n.name for n in sdps], {n.name for n in sdps[1:-1]})
    for node in sdps:  # what MakeZYNQProject records: the block-design cell of each partition
        getCustomOp(node).set_nodeattr("instance_name", cells[node.name])
    carriers = injector_partitions(model)
    text, _ = finn_zynq_hwh([n.name for n in sdps], set(carriers.values()))
    bit.with_suffix(".hwh").write_text(text)
    model.set_metadata_prop("bitfile_output", str(bit))
    model.save(str(build / "intermediate_models" / "step_synthesize_bitfile.onnx"))
    finish_hardware_build(build, load_target("pynq-z2"))
    man = json.loads((build / MANIFEST).read_text())
    slaves = {s.instance: s.base for s in read_hwh(bit.with_suffix(".hwh"))}
    assert man["fclk_mhz"] == 100.0 and man["platform"] == "zynq-iodma"
    for inj in man["injectors"]:
        assert inj["name"].startswith("NoiseInjector_rtl_")
        assert inj["instance"] == carriers[inj["layer"]]
        assert int(inj["axilite_base"], 16) == slaves[inj["instance"]]
    assert (build / "bundle" / "pyproject.toml").is_file()

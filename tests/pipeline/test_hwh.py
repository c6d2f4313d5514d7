"""The injector address lookup in Vivado's hardware handoff file."""

import pytest

from noisybnn.pipeline import injector_bases_from_hwh

HWH = """<?xml version="1.0"?>
<EDKSYSTEM><MODULES><MODULE INSTANCE="processing_system7_0"><MEMORYMAP>
<MEMRANGE INSTANCE="idma0" BASEVALUE="0x40000000" HIGHVALUE="0x4000FFFF"/>
<MEMRANGE INSTANCE="StreamingDataflowPartition_1_NoiseInjector_rtl_0" BASEVALUE="0x43C00000"/>
<MEMRANGE INSTANCE="StreamingDataflowPartition_1_NoiseInjector_rtl_1" BASEVALUE="0x43C10000"/>
</MEMORYMAP></MODULE></MODULES></EDKSYSTEM>"""


def test_bases_found(tmp_path):
    f = tmp_path / "a.hwh"
    f.write_text(HWH)
    bases = injector_bases_from_hwh(f, ["NoiseInjector_rtl_0", "NoiseInjector_rtl_1"])
    assert bases == {"NoiseInjector_rtl_0": 0x43C00000, "NoiseInjector_rtl_1": 0x43C10000}


def test_missing_injector_named(tmp_path):
    f = tmp_path / "a.hwh"
    f.write_text(HWH)
    with pytest.raises(ValueError, match="NoiseInjector_rtl_7"):
        injector_bases_from_hwh(f, ["NoiseInjector_rtl_7"])

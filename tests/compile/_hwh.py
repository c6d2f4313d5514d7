"""A .hwh with the structure of a FINN Zynq build, for the partitions FINN itself made.

Structure as in a Vivado hardware handoff (see pynqmetadata's tests/hwhs/resizer.hwh): one MODULE
per block-design cell; the PS (`zynq_ps`, MODTYPE processing_system7, as FINN's shell names it)
holds a MEMORYMAP of MEMRANGEs (MEMTYPE REGISTER, INSTANCE, SLAVEBUSINTERFACE, BASEVALUE,
HIGHVALUE). Cell names and addresses follow make_zynq_proj.py / templates.py: the first and last
partitions are `idma0`/`odma0` (interface s_axi_control_0), the others keep their partition node
name (interface s_axilite_0); assign_axi_addr_proc gives 4 KiB windows from 0x40000000.
"""

from xml.sax.saxutils import quoteattr


def finn_zynq_hwh(partitions: list[str], axilite: set[str]) -> tuple[str, dict[str, str]]:
    """(hwh text, {partition node name: cell name}) for partitions in graph order."""
    cells, ranges, base = {}, [], 0x40000000
    for k, name in enumerate(partitions):
        cell = "idma0" if k == 0 else "odma0" if k == len(partitions) - 1 else name
        cells[name] = cell
        if cell in ("idma0", "odma0") or name in axilite:
            itf = "s_axi_control_0" if cell in ("idma0", "odma0") else "s_axilite_0"
            ranges.append((cell, itf, base, base + 0xFFF))
            base += 0x1000
    slave_itf = {c: i for c, i, _, _ in ranges}
    mods = []
    for c in cells.values():
        mods.append(f'    <MODULE FULLNAME="/{c}" INSTANCE={quoteattr(c)} MODTYPE={quoteattr(c)} '
                    f'IPTYPE="PERIPHERAL" VLNV="xilinx.com:hls:{c}:1.0">')
        if c in slave_itf:
            mods += ['      <BUSINTERFACES>',
                     f'        <BUSINTERFACE BUSNAME="axi_interconnect_0_M_AXI" DATAWIDTH="32" '
                     f'NAME="{slave_itf[c]}" TYPE="SLAVE" VLNV="xilinx.com:interface:aximm:1.0"/>',
                     '      </BUSINTERFACES>']
        mods.append('    </MODULE>')
    mems = [f'        <MEMRANGE ADDRESSBLOCK="Reg" BASENAME="C_BASEADDR" BASEVALUE="{lo:#010X}" '
            f'HIGHNAME="C_HIGHADDR" HIGHVALUE="{hi:#010X}" INSTANCE="{c}" IS_DATA="TRUE" '
            f'IS_INSTRUCTION="TRUE" MASTERBUSINTERFACE="M_AXI_GP0" MEMTYPE="REGISTER" '
            f'SLAVEBUSINTERFACE="{i}"/>' for c, i, lo, hi in ranges]
    ddr = ('        <MEMRANGE ADDRESSBLOCK="HP0_DDR_LOWOCM" BASEVALUE="0x00000000" '
           'HIGHVALUE="0x1FFFFFFF" INSTANCE="zynq_ps" MASTERBUSINTERFACE="M_AXI_GP0" '
           'MEMTYPE="MEMORY" SLAVEBUSINTERFACE="S_AXI_HP0"/>')
    text = "\n".join([
        '<?xml version="1.0" encoding="UTF-8" standalone="no" ?>',
        '<EDKSYSTEM EDWVERSION="1.2" TIMESTAMP="stand-in" VIVADOVERSION="2024.2">',
        '  <SYSTEMINFO ARCH="zynq" DEVICE="7z020" NAME="top" PACKAGE="clg400" SPEEDGRADE="-1"/>',
        '  <EXTERNALPORTS/>', '  <EXTERNALINTERFACES/>',
        '  <MODULES>', *mods,
        '    <MODULE FULLNAME="/zynq_ps" INSTANCE="zynq_ps" IPTYPE="PERIPHERAL" IS_PL="FALSE" '
        'MODTYPE="processing_system7" VLNV="xilinx.com:ip:processing_system7:5.5">',
        '      <MEMORYMAP>', *mems, ddr, '      </MEMORYMAP>',
        '      <BUSINTERFACES>',
        '        <BUSINTERFACE BUSNAME="zynq_ps_M_AXI_GP0" DATAWIDTH="32" NAME="M_AXI_GP0" '
        'TYPE="MASTER" VLNV="xilinx.com:interface:aximm:1.0"/>',
        '        <BUSINTERFACE BUSNAME="smartconnect_0_M00_AXI" DATAWIDTH="64" NAME="S_AXI_HP0" '
        'TYPE="SLAVE" VLNV="xilinx.com:interface:aximm:1.0"/>',
        '      </BUSINTERFACES>', '    </MODULE>',
        '  </MODULES>', '</EDKSYSTEM>', ''])
    return text, cells

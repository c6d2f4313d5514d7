# Vitis HLS: C simulation-free synthesis of the noise injector for one layer shape.
#   cd <scratch dir> && vitis_hls -f <repo>/hls/vitis_hls.tcl
# Shape and part from the environment (defaults: PE=16 BITS=1 NEURONS=64, xc7z020clg400-1,
# 10 ns): NB_PE, NB_BITS, NB_NEURONS, NB_PART, NB_CLOCK_NS. Exports an IP catalog zip.
# Tested by tests/hw/test_hls_cpp.py::test_vitis_hls_synthesis (marker `vivado`).
set here [file dirname [file normalize [info script]]]
proc env_or {name default} {
    if {[info exists ::env($name)]} { return $::env($name) }
    return $default
}
set pe      [env_or NB_PE 16]
set bits    [env_or NB_BITS 1]
set neurons [env_or NB_NEURONS 64]
set part    [env_or NB_PART xc7z020clg400-1]
set clk     [env_or NB_CLOCK_NS 10]

open_project -reset noise_injector_prj
set_top noise_injector_top
add_files $here/noise_injector_top.cpp \
    -cflags "-I$here -std=c++14 -DNB_PE=$pe -DNB_BITS=$bits -DNB_NEURONS=$neurons"
open_solution -reset solution1 -flow_target vivado
set_part $part
create_clock -period $clk -name default
csynth_design
export_design -format ip_catalog -output noise_injector_ip.zip
exit

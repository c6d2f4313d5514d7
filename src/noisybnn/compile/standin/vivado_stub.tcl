# Stand-in Vivado / Vitis HLS for `noisybnn build --dry-run`: runs a generated script in tclsh.
# Tcl itself fails on an undefined variable ($::env(X) unset included); the commands below fail
# on a missing input file and on a wrong argument count; every other tool command is recorded
# as "unmodelled" and returns its own name (a non-empty handle). Every read of ::env, every file
# referenced and every file the tool would write is logged to the JSON-lines file in argv 0.
set ::log [open [lindex $argv 0] a]
set ::tool [lindex $argv 1]
set script [file normalize [lindex $argv 2]]
set ::finn_deps [lindex $argv 3]
set ::argv [lrange $argv 4 end]
set ::argc [llength $::argv]

proc esc {s} { return [string map {\\ \\\\ \" \\\" \n \\n \t \\t} $s] }
proc rec {kind args} {
    set parts [list "\"kind\":\"$kind\"" "\"tool\":\"$::tool\""]
    foreach {k v} $args { lappend parts "\"$k\":\"[esc $v]\"" }
    puts $::log "{[join $parts ,]}"
    flush $::log
}
proc envread {name1 name2 op} {
    if {[info exists ::env($name2)]} { rec env name $name2 value $::env($name2) } else { rec env name $name2 value "" missing 1 }
}
trace add variable ::env read envread

proc need {path {what input}} {
    set p [file normalize $path]
    if {![file exists $p]} { rec file path $p exists 0 role $what; error "stand-in: $what file not found: $p" }
    rec file path $p exists 1 role $what
    return $p
}
proc made {path} { set p [file normalize $path]; file mkdir [file dirname $p]; if {![file exists $p]} { close [open $p w] }; rec output path $p; return $p }
proc madedir {path} { set p [file normalize $path]; file mkdir $p; rec output path $p; return $p }
proc nargs {name min max arglist} {
    set n [llength $arglist]
    if {$n < $min || ($max >= 0 && $n > $max)} { error "stand-in: wrong # args to $name: got $n ($arglist)" }
}
proc positional {arglist {flags_with_value {}}} {
    set out {}
    for {set i 0} {$i < [llength $arglist]} {incr i} {
        set a [lindex $arglist $i]
        if {[string index $a 0] eq "-"} { if {[lsearch -exact $flags_with_value $a] >= 0} { incr i }; continue }
        lappend out $a
    }
    return $out
}
proc flag {arglist name {default ""}} { set i [lsearch -exact $arglist $name]; if {$i < 0} { return $default }; return [lindex $arglist [expr {$i + 1}]] }

# --- Vitis HLS --------------------------------------------------------------------------------
proc open_project {args} {
    nargs open_project 1 3 $args
    if {$::tool eq "vivado"} { need [lindex $args end] project; return }
    set ::hls_proj [madedir [lindex [positional $args] 0]]; return $::hls_proj
}
proc open_solution {args} { nargs open_solution 1 3 $args; set ::hls_sol [madedir $::hls_proj/[lindex [positional $args] 0]]; return $::hls_sol }
proc set_top {args} { nargs set_top 1 1 $args }
proc set_part {args} { nargs set_part 1 2 $args }
proc create_clock {args} { nargs create_clock 1 -1 $args }
proc config_compile {args} {}
proc config_interface {args} {}
proc config_rtl {args} {}
proc config_export {args} {}
proc csynth_design {args} { madedir $::hls_sol/syn/report; madedir $::hls_sol/syn/verilog }
proc export_design {args} { madedir $::hls_sol/impl/ip; madedir $::hls_sol/impl/verilog }
proc csim_design {args} {}
proc close_project {args} {}
rename exit _tcl_exit
proc exit {args} { close $::log; _tcl_exit 0 }

proc add_files {args} {
    set cflags [flag $args -cflags]
    foreach inc [regexp -all -inline -- {-I\S+} $cflags] {
        set d [file normalize [string range $inc 2 end]]
        # FINN's git dependencies (finn-hlslib, attention-hlslib) are only compiled by HLS
        # synthesis: where absent they are reported as expected external inputs
        if {$::finn_deps ne "" && [string first [file normalize $::finn_deps] $d] == 0 && ![file exists $d]} {
            rec file path $d exists 0 role finn-deps
        } else { need $d include-dir }
    }
    set files [positional $args {-cflags -csimflags -fileset -of_objects}]
    if {[llength $files] == 0} { error "stand-in: add_files without a file" }
    foreach f $files { foreach g $f { need $g } }
    return $files
}
proc read_verilog {args} { foreach f [positional $args {-library}] { need $f } }
proc read_xdc {args} { foreach f [positional $args] { need $f } }
proc import_files {args} { foreach f [positional $args {-fileset -of_objects}] { foreach g $f { need $g } } }
rename source _tcl_source
proc source {args} { set f [lindex $args end]; need $f script; uplevel #0 [list _tcl_source $f] }

# --- Vivado -------------------------------------------------------------------------------------
proc create_project {args} {
    set p [positional $args {-part -board}]
    nargs create_project 2 2 $p
    set ::prj_name [lindex $p 0]; set ::prj_dir [madedir [lindex $p 1]]
    made $::prj_dir/$::prj_name.xpr
}
proc create_bd_design {args} {
    nargs create_bd_design 1 1 [positional $args]; set ::bd [lindex [positional $args] 0]
    made $::prj_dir/$::prj_name.srcs/sources_1/bd/$::bd/$::bd.bd
}
# Vivado writes the wrapper next to the block design (no -import)
proc make_wrapper {args} { return [made $::prj_dir/$::prj_name.srcs/sources_1/bd/$::bd/hdl/${::bd}_wrapper.v] }
proc launch_runs {args} {
    foreach r [positional $args {-jobs -to_step}] {
        madedir $::prj_dir/$::prj_name.runs/$r
        if {[flag $args -to_step] eq "write_bitstream"} { made $::prj_dir/$::prj_name.runs/$r/${::bd}_wrapper.bit }
        # Vivado writes the hardware handoff when it generates the block design for the run
        if {[info exists ::bd]} { made $::prj_dir/$::prj_name.gen/sources_1/bd/$::bd/hw_handoff/$::bd.hwh }
    }
}
proc generate_target {args} {
    if {[info exists ::bd]} { made $::prj_dir/$::prj_name.gen/sources_1/bd/$::bd/hw_handoff/$::bd.hwh }
}
namespace eval ipx {}
proc ipx::package_project {args} { set d [flag $args -root_dir]; if {$d ne ""} { made $d/component.xml } }
proc write_verilog {args} { made [lindex [positional $args {-mode -file}] end]; if {[flag $args -file] ne ""} { made [flag $args -file] } }
proc write_checkpoint {args} { made [lindex [positional $args] end] }
proc write_xdc {args} { made [lindex [positional $args] end] }
proc report_utilization {args} { if {[flag $args -file] ne ""} { made [flag $args -file] } }
proc report_timing_summary {args} { if {[flag $args -file] ne ""} { made [flag $args -file] } }
proc report_power {args} { if {[flag $args -file] ne ""} { made [flag $args -file] } }
proc set_param {args} {
    nargs set_param 2 2 $args
    if {[lindex $args 0] eq "board.repoPaths"} {
        foreach d [lindex $args 1] { if {![string match stand-in:* $d]} { rec file path [file normalize $d] exists [file exists $d] role board-files } }
    }
}
proc get_param {args} { nargs get_param 1 1 $args; return "" }
# Vitis kernel packaging (build_xo.py); the kernel arguments are logged for the register map
proc package_xo {args} {
    set xo [flag $args -xo_path]; set ipdir [flag $args -ip_directory]
    if {$xo eq "" || $ipdir eq "" || [flag $args -kernel_name] eq ""} { error "stand-in: package_xo needs -xo_path, -kernel_name, -ip_directory" }
    need $ipdir ip-directory
    set ports {}; set kargs {}
    for {set i 0} {$i < [llength $args]} {incr i} {
        if {[lindex $args $i] eq "-kernel_xml_args"} {
            set spec [lindex $args [incr i]]
            rec kernel_arg kernel [flag $args -kernel_name] spec $spec
            set f [split [string trim $spec "{}"] :]
            lappend kargs "{\"name\":\"[lindex $f 0]\",\"port\":\"[lindex $f 3]\",\"offset\":\"[lindex $f 5]\"}"
            if {[lsearch -exact $ports [lindex $f 3]] < 0} { lappend ports [lindex $f 3] }
        }
    }
    # the .xo stands in as the kernel description kernelinfo reads back (JSON, not a zip)
    set pj {}; foreach p $ports { lappend pj "{\"name\":\"$p\"}" }
    made $xo
    set fh [open $xo w]
    puts $fh "{\"kernelDefs\":\[{\"name\":\"[flag $args -kernel_name]\",\"ports\":\[[join $pj ,]\],\"arguments\":\[[join $kargs ,]\]}\]}"
    close $fh
    return $xo
}
proc version {args} { return "2024.2 (stand-in)" }
proc get_property {args} {
    set name [lindex $args 0]
    if {[string match CONFIG.ADDR_WIDTH $name]} { return 12 }
    if {$name eq "PROGRESS"} { return "100%" }
    return "stand-in:$name"
}

proc unknown {args} {
    set cmd [lindex $args 0]
    rec command name $cmd
    return "stand-in:$cmd"
}

rec script path $script
need $script script
if {[catch {uplevel #0 [list _tcl_source $script]} err]} {
    rec error message $err script $script
    puts stderr "stand-in $::tool: $err"
    close $::log
    _tcl_exit 1
}
close $::log
_tcl_exit 0

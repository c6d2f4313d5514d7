"""A stand-in Xilinx tool (vivado, vitis_hls, vitis-run, v++) for the dry run; see dry_run.py.

Invoked as `python tool.py TOOL ARGS...` by the wrapper named TOOL in the folder that
FINN_TOOL_DIR_OVERRIDE points at (FINN's own hook for tool shims): runs the Tcl
script the command line names in `tclsh` with the stub commands of vivado_stub.tcl, logging to
$NOISYBNN_DRYRUN_LOG. v++ has no script: its inputs must exist and its -o output is created.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

STUB = Path(__file__).with_name("vivado_stub.tcl")


def _script(tool: str, argv: list[str]) -> tuple[str, list[str]]:
    if tool == "vivado":
        i = argv.index("-source")
        rest = argv[argv.index("-tclargs") + 1:] if "-tclargs" in argv else []
        return argv[i + 1], rest
    if tool == "vitis-run":
        return argv[argv.index("--tcl") + 1], []
    tcl = [a for a in argv if a.endswith(".tcl")]
    return tcl[0], []


def _vpp(argv: list[str], log: str) -> int:
    """v++ --link: the .xo inputs and --config file must exist; writes -o (default a.xclbin,
    as v++ does, in the working directory). The platform is checked under PLATFORM_REPO_PATHS
    and, being a Vitis installation's, reported as an expected external input."""
    recs = [{"kind": "script", "tool": "v++", "path": " ".join(argv)}]
    out, missing = "a.xclbin", []
    for i, a in enumerate(argv):
        val = argv[i + 1] if i + 1 < len(argv) else ""
        if a in ("-o", "--output"):
            out = val
        elif a == "--config" or a.endswith(".xo"):
            p = Path(val if a == "--config" else a).resolve()
            recs.append({"kind": "file", "tool": "v++", "path": str(p), "exists": str(int(p.exists())),
                         "role": "input"})
            if not p.exists():
                missing.append(str(p))
        elif a == "--platform":
            repo = Path(os.environ.get("PLATFORM_REPO_PATHS", "/opt/xilinx/platforms")) / val
            recs.append({"kind": "file", "tool": "v++", "path": str(repo),
                         "exists": str(int(repo.exists())), "role": "vitis-platform"})
    if not missing:
        outs = [Path(out)]
        if "--link" in argv:  # v++ --link keeps its Vivado project under the temp dir _x/
            outs.append(Path("_x") / "link" / "vivado" / "vpl" / "prj" / "prj.xpr")
        for o in outs:
            o.parent.mkdir(parents=True, exist_ok=True)
            o.touch()
            recs.append({"kind": "output", "tool": "v++", "path": str(o.resolve())})
    else:
        recs.append({"kind": "error", "tool": "v++", "message": f"inputs not found: {missing}",
                     "script": "v++"})
    with open(log, "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)
    if missing:
        print(f"stand-in v++: input not found: {missing}", file=sys.stderr)
        return 1
    return 0


def _kernelinfo(argv: list[str]) -> int:
    """Vitis' kernelinfo on a stand-in .xo (written by the stub package_xo as JSON)."""
    xo = Path(argv[-1])
    try:
        data = json.loads(xo.read_text())
    except (OSError, ValueError):
        print(f"stand-in kernelinfo: {xo} is not a stand-in kernel", file=sys.stderr)
        return 1
    print(json.dumps(data))
    return 0


def main() -> int:
    tool, argv = sys.argv[1], sys.argv[2:]
    log = os.environ["NOISYBNN_DRYRUN_LOG"]
    if tool == "v++":
        return _vpp(argv, log)
    if tool == "kernelinfo":
        return _kernelinfo(argv)
    script, rest = _script(tool, argv)
    deps = os.environ.get("FINN_DEPS", "")
    return subprocess.call(["tclsh", str(STUB), log, tool, script, deps, *rest])


if __name__ == "__main__":
    sys.exit(main())

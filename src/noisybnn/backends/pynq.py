"""The board backend: the host overlay behind the Accelerator interface, and deployment.

* `PynqAccelerator` wraps ``noisybnn_host.NoisyBNNOverlay`` (the bundle in ``host/``) so that
  sweeps run with ``backend="pynq"`` on a board exactly as they do on the software model.
* `bundle` makes the folder that goes to the board: ``noisybnn_host`` with the injector reference
  ``noisybnn/hw`` vendored as ``noisybnn_host/_hw``, the bitfile (+ .hwh), the manifest.
* `deploy` copies a bundle to a board with rsync or scp (``make deploy BOARD=.. HOST=..``).

docs/hardware.md describes the whole flow.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import noisybnn.hw
from noisybnn import resources
from noisybnn.backends.base import NoiseSetting, check_images
from noisybnn.errors import ConfigError

REPO_DIR = resources.source_checkout()
HOST_DIR = resources.host_dir()
HW_DIR = Path(noisybnn.hw.__file__).resolve().parent
BITSTREAMS_DIR = resources.work_dir("bitstreams")
MODELS_DIR = resources.models_dir()
#: The board tests; the bundle carries them (pytest -m board test_board.py on the board).
BOARD_TEST = REPO_DIR / "tests" / "host" / "test_host_board.py"
PIXELS = 784

__all__ = [
    "PynqAccelerator",
    "bundle",
    "deploy",
    "complete_manifest",
    "deploy_build",
    "find_build",
    "host_package",
]


def host_package():
    """The board bundle's package `noisybnn_host` (from host/ of this checkout)."""
    try:
        return importlib.import_module("noisybnn_host")
    except ImportError:
        if not (HOST_DIR / "noisybnn_host" / "__init__.py").is_file():
            raise ImportError(
                f"the board bundle is missing: expected {HOST_DIR}/noisybnn_host (run from a "
                "checkout of noisybnn, installed with pip install -e)"
            ) from None
        sys.path.insert(0, str(HOST_DIR))
        return importlib.import_module("noisybnn_host")


def _file_sha256(path: Path) -> str:
    return host_package().manifest.file_sha256(path)


# --- the accelerator ------------------------------------------------------------------------


class PynqAccelerator:
    """A bitstream on a board, as an `Accelerator` (see noisybnn.backends.base).

    Noise runs follow the interface: `configure_noise` and `reset_noise` write the reseed strobe
    (the start of a run), and the `execute` calls after them continue that run. So a test set
    executed in one call or in several gives the same outputs, and so does the same run
    repeated after `reset_noise`.

    Args:
        bitfile: .bit / .xclbin; None: the manifest's.
        manifest: manifest.json (None: next to the bitfile).
        model: the model this must be: a checkpoint path or a shipped name (models/NAME.pt); its
            SHA-256 must equal the manifest's, else ManifestError.
        batch_size: images per DMA transfer.
        device: pynq.Device (None: default).
    """

    def __init__(
        self,
        bitfile: str | Path | None = None,
        manifest: str | Path | dict | None = None,
        *,
        model: str | Path | None = None,
        batch_size: int = 1000,
        device: Any = None,
        download: bool = True,
    ):
        host = host_package()
        man = manifest
        if not isinstance(man, host.Manifest):
            if isinstance(man, dict):
                man = host.Manifest.from_dict(man)
            else:
                if man is None and bitfile is None:
                    raise ConfigError("give a bitfile, a manifest, or both")
                man = host.load_manifest(man or Path(bitfile).parent / "manifest.json")
        expect = None
        if model is not None:
            expect = _file_sha256(_checkpoint(model))
        if man.io.input_type.name != "UINT8" or man.io.input_elements != PIXELS:
            raise host.ManifestError(
                f"the Accelerator interface feeds {PIXELS} uint8 pixels per image, but this "
                f"bitstream takes {man.io.input_elements} values of {man.io.input_type.name}"
            )
        self.overlay = host.NoisyBNNOverlay(
            bitfile, man, batch_size=batch_size, device=device, download=download,
            expect_model_sha256=expect,
        )
        self.manifest = man
        #: Hidden layers with an injector, in order; their widths.
        self.injector_layers = man.injector_layers
        self.injector_widths = self.overlay.injector_widths
        self.num_classes = man.num_classes
        self.setting = NoiseSetting(mode="off")

    @classmethod
    def from_build(cls, build: str | Path, board: str = "pynq-z2", **kw) -> PynqAccelerator:
        """The bitstream of a build directory, or of a model name under bitstreams/<board>/."""
        bitfile, manifest = find_build(build, board)
        return cls(bitfile, manifest, **kw)

    def configure_noise(self, setting: NoiseSetting) -> None:
        """Program the injectors and reseed them: the next `execute` starts a fresh run."""
        if not isinstance(setting, NoiseSetting):
            raise TypeError(
                f"configure_noise takes a NoiseSetting, got {type(setting).__name__}; build one "
                "with NoiseSetting(mode='flip', p=..., seed=...)"
            )
        self.overlay.configure_noise(setting)  # registers.encode ends with the RESEED strobe
        self.setting = setting

    def reset_noise(self) -> None:
        """Reseed the injectors now: the next `execute` restarts the run."""
        self.overlay.reseed()

    def execute(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, 28, 28) or (N, 784) -> int64 logits (N, num_classes)."""
        x = check_images(images, PIXELS)
        return self.overlay.execute(x, reseed=False).astype(np.int64, copy=False)

    def flip_counts(self) -> list[int]:
        return self.overlay.flip_counts()

    def throughput_test(self, n_images: int = 10000) -> dict:
        """FINN's figures for one DMA batch of `n_images` (plus the keys of the sim backend);
        restarts the noise run afterwards."""
        try:
            res = self.overlay.throughput_test(n_images)
        finally:
            self.overlay.reseed()
        runtime = res["runtime[ms]"] / 1e3
        res.update(backend="pynq", images=n_images, runtime_s=runtime,
                   images_per_s=res["throughput[images/s]"])
        return res

    def close(self) -> None:
        self.overlay.close()

    def __repr__(self) -> str:
        return f"PynqAccelerator({self.overlay!r})"


def _checkpoint(model: str | Path) -> Path:
    p = Path(model)
    if p.suffix == ".pt" or os.sep in str(model):
        if not p.is_file():
            raise FileNotFoundError(f"checkpoint not found: {p}")
        return p
    p = MODELS_DIR / f"{model}.pt"
    if not p.is_file():
        raise FileNotFoundError(
            f"checkpoint {p} of model {model!r} not found; the bitstream check needs it "
            f"(noisybnn zoo train {model})"
        )
    return p


def find_build(build: str | Path, board: str = "pynq-z2",
               root: str | Path | None = None) -> tuple[Path, Path]:
    """(bitfile, manifest) of a build directory, or of a model name under
    bitstreams/<board>/<model>/; a clear error if there is no bitstream."""
    p = Path(build)
    folder = p if p.is_dir() else Path(root or BITSTREAMS_DIR) / board / str(build)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        model = p.name if p.is_dir() else build
        raise FileNotFoundError(
            f"no bitstream of {model} for {board}: {manifest} is missing; build it with "
            f"`make bitstream MODEL={model} BOARD={board}` (needs Vivado/Vitis)"
        )
    man = host_package().load_manifest(manifest)
    return man.bitfile_path(), manifest


def complete_manifest(
    build_dir: str | Path,
    bitfile: str | Path,
    *,
    platform: str,
    io_shape_dict: dict,
    axilite_bases: dict[str, int],
    instances: dict[str, str] | None = None,
    fclk_mhz: float | None = None,
) -> Path:
    """Add the hardware fields to a build's manifest.json once its bitstream exists.

    For the bitstream step of the build: `io_shape_dict` is FINN's (``get_driver_shapes`` /
    the generated driver's; DataType objects or names), `axilite_bases` maps each injector's
    node name to its AXI-Lite base address (the block design's address map), `instances` to the
    block-design cell that carries it (its dataflow partition; PYNQ's ip_dict key), `platform` is
    "zynq-iodma" (FINN's Zynq shell), "zynq-axidma" or "alveo". The result is validated with the
    board's own reader before it is written.
    """
    host = host_package()
    path = Path(build_dir) / "manifest.json"
    d = json.loads(path.read_text())
    bit = Path(bitfile)
    try:
        d["bitfile"] = str(bit.resolve().relative_to(Path(build_dir).resolve()))
    except ValueError:
        d["bitfile"] = str(bit.resolve())
    d["bitfile_sha256"] = _file_sha256(bit)
    d["platform"] = platform
    if fclk_mhz is not None:
        d["fclk_mhz"] = float(fclk_mhz)
    io = {}
    for key, val in io_shape_dict.items():
        if key in ("idt", "odt"):
            if isinstance(val, (list, tuple)):
                val = [getattr(x, "name", x) for x in val]
            else:
                val = getattr(val, "name", val)
        elif key.startswith(("ishape", "oshape")):
            val = json.loads(json.dumps(val))  # tuples -> lists
        elif key not in ("idma_names", "odma_names"):
            continue
        io[key] = val
    d["io"] = io
    for inj in d.get("injectors", []):
        if inj["name"] not in axilite_bases:
            raise ConfigError(
                f"no AXI-Lite base address given for injector {inj['name']!r} (have: "
                f"{', '.join(sorted(axilite_bases)) or 'none'})"
            )
        inj["axilite_base"] = f"{int(axilite_bases[inj['name']]):#010x}"
        if instances and inj["name"] in instances:
            inj["instance"] = instances[inj["name"]]
    host.Manifest.from_dict(d, source=str(path))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(d, indent=2) + "\n")
    os.replace(tmp, path)
    return path


# --- the bundle -----------------------------------------------------------------------------

_HW_IMPORT = re.compile(r"^(\s*(?:from|import)\s+)noisybnn\.hw\b", re.MULTILINE)
_VENDOR_HEADER = (
    "# Copied from src/noisybnn/hw/{name} by noisybnn.backends.pynq.bundle: edit the original.\n"
)


def _check_board_imports(path: Path) -> None:
    """Raise if a file of noisybnn/hw imports something the board does not have."""
    tree = ast.parse(path.read_text(), filename=str(path))
    allowed = set(sys.stdlib_module_names) | {"numpy", "__future__"}
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if name == "noisybnn.hw" or name.startswith("noisybnn.hw."):
                continue
            if top not in allowed:
                raise ConfigError(
                    f"{path} imports {name!r}, which the board does not have: the injector "
                    "reference that goes into the bundle may use numpy and the standard "
                    "library only"
                )


#: What the board imports from noisybnn.hw (noisybnn_host/_hwref.py); their imports follow.
BOARD_HW_ROOTS = ("__init__", "injector", "registers")


def board_hw_modules(hw_dir: Path | None = None) -> list[Path]:
    """The files of noisybnn/hw the board needs: the roots and what they import from
    noisybnn.hw (not the tool-side modules such as the yosys runner)."""
    hw = hw_dir or HW_DIR
    todo, seen = list(BOARD_HW_ROOTS), set()
    while todo:
        name = todo.pop()
        path = hw / f"{name}.py"
        if name in seen or not path.is_file():
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "noisybnn.hw":
                    todo += [a.name for a in node.names]
                elif node.module.startswith("noisybnn.hw."):
                    todo.append(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                todo += [a.name.split(".")[2] for a in node.names if a.name.startswith("noisybnn.hw.")]
    return sorted(hw / f"{n}.py" for n in seen)


def vendor_hw(dest: Path) -> list[Path]:
    """Copy the board's part of noisybnn/hw to `dest` with their imports of noisybnn.hw made
    relative to it."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for src in board_hw_modules():
        _check_board_imports(src)
        text = _HW_IMPORT.sub(r"\1noisybnn_host._hw", src.read_text())
        out = dest / src.name
        out.write_text(_VENDOR_HEADER.format(name=src.name) + text)
        written.append(out)
    return written


def bundle(
    out_dir: str | Path,
    bitfile: str | Path,
    manifest: str | Path,
    *,
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
    verify: bool = True,
) -> Path:
    """Make the folder that goes to the board; return it.

    Layout: ``noisybnn_host/`` (with ``_hw/``, the vendored injector reference), the bitfile
    (+ ``.hwh``), ``manifest.json`` (its ``bitfile`` naming the copied file),
    ``requirements.txt``, ``pyproject.toml`` (the bundle is a package: ``pip install --no-deps
    ./bundle`` on the board), ``test_board.py`` (the board tests), and, if `test_set` is given,
    ``test_images.npy`` / ``test_labels.npy``.
    The manifest is validated and the bitfile checked against it first. With `verify`, the
    bundle is imported in a fresh interpreter that cannot see the noisybnn package.
    """
    host = host_package()
    man = host.load_manifest(manifest)
    bit = man.check_bitfile(Path(bitfile))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pkg = out / "noisybnn_host"
    if pkg.exists():
        shutil.rmtree(pkg)
    shutil.copytree(HOST_DIR / "noisybnn_host", pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_hw"))
    vendor_hw(pkg / "_hw")
    shutil.copy2(bit, out / bit.name)
    if bit.suffix == ".bit":
        shutil.copy2(bit.with_suffix(".hwh"), out / f"{bit.stem}.hwh")
    raw = json.loads(Path(manifest).read_text())
    raw["bitfile"] = bit.name
    (out / "manifest.json").write_text(json.dumps(raw, indent=2) + "\n")
    shutil.copy2(HOST_DIR / "requirements.txt", out / "requirements.txt")
    shutil.copy2(HOST_DIR / "pyproject.toml", out / "pyproject.toml")  # pip install ./bundle
    if BOARD_TEST.is_file():
        shutil.copy2(BOARD_TEST, out / "test_board.py")
    if test_set is not None:
        x, y = test_set
        np.save(out / "test_images.npy", check_images(np.asarray(x), PIXELS))
        np.save(out / "test_labels.npy", np.asarray(y).astype(np.int64))
    if verify:
        check_bundle(out)
    return out


def check_bundle(bundle_dir: str | Path) -> None:
    """Import the bundle and load its manifest in a fresh interpreter without noisybnn."""
    code = (
        "import sys; sys.modules['noisybnn'] = None; sys.path.insert(0, sys.argv[1]);"
        "import noisybnn_host, noisybnn_host._hwref as r;"
        "assert r.SOURCE == 'noisybnn_host._hw', r.SOURCE;"
        "noisybnn_host.load_manifest(sys.argv[1] + '/manifest.json')"
    )
    proc = subprocess.run([sys.executable, "-B", "-c", code, str(bundle_dir)],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"the bundle in {bundle_dir} does not import on its own: {tail}")


# --- deployment -----------------------------------------------------------------------------

_HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$|^\[[0-9A-Fa-f:.%A-Za-z]+\]$")
_USER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_PATH_RE = re.compile(r"^/[A-Za-z0-9_./+-]*$")


def _check_destination(host: str, user: str, target_dir: str) -> None:
    if not host or not _HOST_RE.match(host):
        raise ConfigError(
            f"board address {host!r} is not a host name or IP address; give HOST=<address> "
            "(e.g. HOST=192.168.2.99, the PYNQ-Z2's default)"
        )
    if not _USER_RE.match(user or ""):
        raise ConfigError(f"user name {user!r} is not valid")
    if not _PATH_RE.match(target_dir or "") or ".." in target_dir.split("/"):
        raise ConfigError(
            f"target_dir must be an absolute path without spaces or '..', got {target_dir!r}"
        )


def _run_remote(cmd: list[str], what: str, dest: str, timeout_s: float) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{what} timed out after {timeout_s:.0f} s: is {dest} reachable?"
        ) from None
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        if proc.returncode == 255:
            raise RuntimeError(
                f"cannot reach {dest} ({cmd[0]}: {tail}); check the address, that the board "
                f"is powered and on the network, and that `ssh {dest}` works"
            )
        raise RuntimeError(f"{what} failed ({cmd[0]} exit {proc.returncode}): {tail}")


def deploy(
    bundle_dir: str | Path,
    host: str,
    user: str = "xilinx",
    target_dir: str = "/home/xilinx/noisybnn",
    *,
    port: int | None = None,
    timeout_s: float = 300.0,
) -> str:
    """Copy a bundle to the board over ssh; return the command that runs it there.

    Uses rsync when present (only changed files travel), else scp; both need ssh. Never deletes
    anything on the board. Raises RuntimeError with one line if the tools are missing or the
    board cannot be reached, ValueError for a malformed address or path.
    """
    src = Path(bundle_dir)
    if not (src / "noisybnn_host" / "__init__.py").is_file() or not (
        src / "manifest.json"
    ).is_file():
        raise FileNotFoundError(
            f"{src} is not a board bundle (no noisybnn_host/ or manifest.json); make one with "
            "noisybnn.backends.pynq.bundle()"
        )
    _check_destination(host, user, target_dir)
    dest = f"{user}@{host}"
    ssh = shutil.which("ssh")
    rsync = shutil.which("rsync")
    scp = shutil.which("scp")
    if ssh is None or (rsync is None and scp is None):
        raise RuntimeError(
            "deploying needs ssh and rsync or scp on PATH; install openssh-client (and rsync)"
        )
    ssh_opts = ["-o", "ConnectTimeout=10"]
    port_ssh = ["-p", str(int(port))] if port else []
    _run_remote([ssh, *ssh_opts, *port_ssh, dest, f"mkdir -p {target_dir}"],
                "creating the target folder", dest, timeout_s)
    if rsync is not None:
        rsh = " ".join([ssh, *ssh_opts, *port_ssh])
        cmd = [rsync, "-rtz", "--exclude", "__pycache__", "-e", rsh,
               f"{src}/", f"{dest}:{target_dir}/"]
    else:
        entries = sorted(str(p) for p in src.iterdir() if p.name != "__pycache__")
        port_scp = ["-P", str(int(port))] if port else []
        cmd = [scp, "-r", *ssh_opts, *port_scp, *entries, f"{dest}:{target_dir}/"]
    _run_remote(cmd, "copying the bundle", dest, timeout_s)
    return run_command(src, host, user, target_dir)


def run_command(bundle_dir: str | Path, host: str, user: str = "xilinx",
                target_dir: str = "/home/xilinx/noisybnn") -> str:
    """The command that runs a deployed bundle's test set on the board (pynq needs root)."""
    man = json.loads((Path(bundle_dir) / "manifest.json").read_text())
    data = ""
    if (Path(bundle_dir) / "test_images.npy").is_file():
        data = " --images test_images.npy --labels test_labels.npy"
    else:
        data = " --images <images.npy> --labels <labels.npy>"
    inner = (f"source /etc/profile.d/pynq_venv.sh 2>/dev/null; cd {target_dir} && "
             f"python3 -m noisybnn_host --bitfile {man['bitfile']}{data} --eps 0.01 --seed 1")
    return f"ssh -t {user}@{host} \"sudo bash -c '{inner}'\""


def deploy_build(
    build: str | Path,
    host: str,
    *,
    board: str = "pynq-z2",
    user: str = "xilinx",
    target_dir: str = "/home/xilinx/noisybnn",
    out_dir: str | Path | None = None,
    dataset: str | None = "mnist",
) -> str:
    """`make deploy`: bundle a build (directory or model name) with the test set into
    <build>/bundle/, copy it to the board, and return the command that runs it there."""
    bitfile, manifest = find_build(build, board)
    test_set = None
    if dataset:
        from noisybnn import data

        try:
            test_set = data.load(dataset, "test")
        except (RuntimeError, OSError, ValueError) as exc:
            print(f"note: no test set in the bundle ({dataset}: {exc})", file=sys.stderr)
    out = bundle(out_dir or Path(manifest).parent / "bundle", bitfile, manifest,
                 test_set=test_set)
    return deploy(out, host, user, target_dir)

"""noisybnn.backends.pynq: the Accelerator over the overlay, the bundle, and deploy (no network)."""

from __future__ import annotations

import hashlib
import json
import subprocess

import numpy as np
import pytest
from noisybnn_host import ManifestError
from test_host_overlay import reference

from noisybnn.backends import pynq as backend
from noisybnn.backends.base import Accelerator, NoiseSetting


@pytest.fixture
def checkpoint(tmp_path):
    p = tmp_path / "fake-mlp.pt"
    p.write_bytes(b"weights")
    return p, hashlib.sha256(b"weights").hexdigest()


@pytest.fixture
def accel(fake_board, checkpoint):
    board, bit, man = fake_board()
    d = json.loads(man.read_text())
    d["checkpoint_sha256"] = checkpoint[1]
    man.write_text(json.dumps(d))
    return board, backend.PynqAccelerator(bit, man, model=checkpoint[0], batch_size=4)


def test_is_an_accelerator(accel):
    board, acc = accel
    assert isinstance(acc, Accelerator)
    assert acc.injector_widths == [64, 32] and acc.num_classes == 10


def test_run_continues_across_calls_until_reseed(accel, images):
    board, acc = accel
    acc.configure_noise(NoiseSetting(p=0.2, seed=8))
    want, changed = reference(board, images, p=0.2, seed=8)
    got = np.concatenate([acc.execute(images[:5]), acc.execute(images[5:])])
    assert np.array_equal(got, want)
    assert acc.flip_counts() == changed
    acc.reset_noise()
    assert acc.flip_counts() == [0, 0]
    assert np.array_equal(acc.execute(images), want)  # same run again
    acc.throughput_test(n_images=6)  # restarts the run afterwards
    assert np.array_equal(acc.execute(images.reshape(-1, 784)), want)


def test_accelerator_rejects_bad_arguments(accel, images):
    board, acc = accel
    with pytest.raises(TypeError, match="NoiseSetting"):
        acc.configure_noise({"p": 0.1})
    with pytest.raises(ValueError, match="uint8"):
        acc.execute(images.astype(np.int32))


def test_model_mismatch(fake_board, checkpoint):
    board, bit, man = fake_board()  # manifest model sha is "abab..."
    with pytest.raises(ManifestError, match="rebuild the bitstream"):
        backend.PynqAccelerator(bit, man, model=checkpoint[0])
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        backend.PynqAccelerator(bit, man, model="no-such-model")


def test_find_build(tmp_path, fake_board):
    with pytest.raises(FileNotFoundError, match="make bitstream MODEL=tfc-w1a1 BOARD=pynq-z2"):
        backend.find_build("tfc-w1a1", "pynq-z2", root=tmp_path)
    board, bit, man = fake_board()
    folder = tmp_path / "pynq-z2" / "fake-mlp"
    folder.mkdir(parents=True)
    for f in (bit, bit.with_suffix(".hwh"), man):
        (folder / f.name).write_bytes(f.read_bytes())
    assert backend.find_build("fake-mlp", "pynq-z2", root=tmp_path) == (
        folder / bit.name, folder / "manifest.json")


# --- bundle -----------------------------------------------------------------------------------


def test_bundle_layout_and_vendored_reference(tmp_path, fake_board, images):
    board, bit, man = fake_board()
    out = backend.bundle(tmp_path / "b", bit, man, test_set=(images, np.arange(11) % 10))
    names = {p.name for p in out.iterdir()}
    assert names == {"noisybnn_host", "accel.bit", "accel.hwh", "manifest.json",
                     "requirements.txt", "pyproject.toml", "test_images.npy", "test_labels.npy",
                     "test_board.py"}
    hw = out / "noisybnn_host" / "_hw"
    assert {p.name for p in hw.glob("*.py")} == {"__init__.py", "injector.py", "lfsr.py", "registers.py"}
    for p in hw.glob("*.py"):
        text = p.read_text()
        assert "from noisybnn.hw" not in text and "import noisybnn.hw" not in text
    assert "from noisybnn_host._hw import lfsr" in (hw / "injector.py").read_text()
    assert not list(out.rglob("__pycache__"))  # bundle(verify=True) imported it elsewhere
    assert json.loads((out / "manifest.json").read_text())["bitfile"] == "accel.bit"
    assert np.load(out / "test_images.npy").shape == (11, 784)


def test_bundle_is_a_pip_package(tmp_path, fake_board):
    """The board installs the bundle with pip; the installed package imports without noisybnn
    and uses its vendored injector reference."""
    import subprocess
    import sys

    board, bit, man = fake_board()
    out = backend.bundle(tmp_path / "b", bit, man)
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(target), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    code = ("import sys; sys.modules['noisybnn'] = None; sys.path.insert(0, sys.argv[1]);"
            "import noisybnn_host, noisybnn_host._hwref as r; print(r.SOURCE, noisybnn_host.__file__)")
    run = subprocess.run([sys.executable, "-B", "-c", code, str(target)], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    source, path = run.stdout.split()
    assert source == "noisybnn_host._hw" and path.startswith(str(target))
    assert (target / "bin" / "noisybnn-host").is_file()


def test_bundle_refuses_board_incompatible_reference(tmp_path, fake_board, monkeypatch):
    board, bit, man = fake_board()
    hw = tmp_path / "hw"
    hw.mkdir()
    (hw / "injector.py").write_text("import numpy as np\nfrom noisybnn.hw import registers\n")
    (hw / "registers.py").write_text("import torch\n")
    (hw / "synth.py").write_text("import subprocess\nfrom noisybnn.errors import ToolMissingError\n")
    monkeypatch.setattr(backend, "HW_DIR", hw)
    with pytest.raises(ValueError, match="imports 'torch', which the board does not have"):
        backend.bundle(tmp_path / "b", bit, man, verify=False)


def test_bundle_checks_the_bitfile(tmp_path, fake_board):
    board, bit, man = fake_board()
    bit.write_bytes(b"other")
    with pytest.raises(ManifestError, match="another build"):
        backend.bundle(tmp_path / "b", bit, man, verify=False)


# --- deploy (subprocess is replaced: no traffic leaves this machine) ----------------------------


class Recorder:
    def __init__(self, returncodes=()):
        self.calls = []
        self.returncodes = list(returncodes)

    def __call__(self, cmd, **kw):
        self.calls.append(cmd)
        rc = self.returncodes.pop(0) if self.returncodes else 0
        err = "ssh: connect to host board.local port 22: No route to host" if rc == 255 else ""
        return subprocess.CompletedProcess(cmd, rc, "", err)


@pytest.fixture
def bundle_dir(tmp_path, fake_board):
    board, bit, man = fake_board()
    return backend.bundle(tmp_path / "bundle", bit, man, verify=False)


@pytest.fixture
def tools(monkeypatch):
    """ssh, rsync, scp 'installed'; subprocess.run recorded."""
    found = {"ssh": "/usr/bin/ssh", "rsync": "/usr/bin/rsync", "scp": "/usr/bin/scp"}
    monkeypatch.setattr(backend.shutil, "which", lambda name: found.get(name))
    rec = Recorder()
    monkeypatch.setattr(backend.subprocess, "run", rec)
    return found, rec


def test_deploy_with_rsync(bundle_dir, tools):
    found, rec = tools
    cmd = backend.deploy(bundle_dir, "board.local")
    mkdir, copy = rec.calls
    assert mkdir[0] == "/usr/bin/ssh" and mkdir[-2:] == ["xilinx@board.local",
                                                         "mkdir -p /home/xilinx/noisybnn"]
    assert copy[0] == "/usr/bin/rsync" and "--delete" not in copy
    assert copy[-2:] == [f"{bundle_dir}/", "xilinx@board.local:/home/xilinx/noisybnn/"]
    assert "python3 -m noisybnn_host --bitfile accel.bit" in cmd


def test_deploy_with_scp(bundle_dir, tools):
    found, rec = tools
    del found["rsync"]
    backend.deploy(bundle_dir, "192.168.2.99", user="root", target_dir="/root/nb", port=2222)
    copy = rec.calls[1]
    assert copy[:2] == ["/usr/bin/scp", "-r"] and "-P" in copy
    assert copy[-1] == "root@192.168.2.99:/root/nb/"
    assert str(bundle_dir / "noisybnn_host") in copy


def test_deploy_errors(bundle_dir, tools, tmp_path):
    found, rec = tools
    rec.returncodes = [255]
    with pytest.raises(RuntimeError, match="cannot reach xilinx@board.local.*No route"):
        backend.deploy(bundle_dir, "board.local")
    for bad in ("", "-oProxyCommand=sh", "a b", "host;rm"):
        with pytest.raises(ValueError, match="not a host name"):
            backend.deploy(bundle_dir, bad)
    with pytest.raises(ValueError, match="target_dir"):
        backend.deploy(bundle_dir, "board.local", target_dir="relative/dir")
    with pytest.raises(FileNotFoundError, match="not a board bundle"):
        backend.deploy(tmp_path, "board.local")
    found.clear()
    with pytest.raises(RuntimeError, match="needs ssh and rsync or scp"):
        backend.deploy(bundle_dir, "board.local")
    assert len(rec.calls) == 1  # only the refused mkdir ran (recorded, not executed)


def test_complete_manifest_adds_hardware_fields(tmp_path, fake_board):
    board, bit, man = fake_board()
    full = json.loads(man.read_text())
    # what pipeline.compile_model writes before the bitstream exists
    estimate = {k: full[k] for k in ("model", "checkpoint_sha256", "board", "num_classes")}
    estimate.update(bitfile=None, build_key="k", injectors=[
        {k: v for k, v in inj.items() if k != "axilite_base"} for inj in full["injectors"]])
    man.write_text(json.dumps(estimate))
    with pytest.raises(ManifestError, match="estimates-only"):
        backend.find_build(tmp_path)

    class DT:  # qonnx DataType stand-in: FINN's io_shape_dict holds objects with .name
        def __init__(self, name):
            self.name = name

    io = {k: [tuple(v)] for k, v in full["io"].items() if "shape" in k}
    io.update(idt=[DT("UINT8")], odt=[DT("INT7")], num_inputs=1, idma_names=["idma0"],
              odma_names=["odma0"])
    with pytest.raises(ValueError, match="no AXI-Lite base address given for injector 'NoiseInjector_rtl_1'"):
        backend.complete_manifest(tmp_path, bit, platform="zynq-iodma", io_shape_dict=io,
                                  axilite_bases={"NoiseInjector_rtl_0": 0x43C10000})
    backend.complete_manifest(tmp_path, bit, platform="zynq-iodma", io_shape_dict=io,
                              axilite_bases={"NoiseInjector_rtl_0": 0x43C10000,
                                             "NoiseInjector_rtl_1": 0x43C20000},
                              fclk_mhz=100)
    d = json.loads(man.read_text())
    assert d["bitfile"] == "accel.bit" and d["build_key"] == "k"
    assert d["injectors"][1]["axilite_base"] == "0x43c20000"
    acc = backend.PynqAccelerator.from_build(tmp_path, batch_size=2)  # a build directory
    assert acc.injector_widths == [64, 32]


def test_deploy_build_bundles_into_the_build(tmp_path, fake_board, tools):
    board, bit, man = fake_board()
    found, rec = tools
    cmd = backend.deploy_build(tmp_path, "board.local", dataset=None)
    assert (tmp_path / "bundle" / "noisybnn_host" / "_hw" / "registers.py").is_file()
    copy = next(c for c in rec.calls if c[0] == "/usr/bin/rsync")
    assert copy[-2] == f"{tmp_path / 'bundle'}/"
    assert "--images <images.npy>" in cmd

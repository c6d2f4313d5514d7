"""The board overlay: one class, driven by the manifest, in the shape of FINN's driver_base.

``execute(images)`` is fold -> pack -> copy in -> run (DMA) -> wait -> copy out -> unpack ->
unfold, each a method; the ``batch_size`` setter reallocates the DMA buffers;
``throughput_test()`` returns a dict of figures with FINN's keys.

Noise: ``configure_noise(setting)`` writes every injector's registers with
``registers.encode(cfg)``, the seed of injector ``l`` being ``derive_layer_seed(setting.seed, l)``.
**Every run is reseeded**: ``execute`` writes the RESEED strobe to every injector before its
first DMA transfer, so the same call on the same configuration gives the same result, whatever
ran before (the cure for FINN issue #796, board runs that differ from run to run). A call
split into several DMA transfers (more images than ``batch_size``) is one run: the injectors are
not reseeded between its transfers, so the result does not depend on the batch size. Pass
``reseed=False`` to continue the previous run instead (what `noisybnn.backends.pynq` does for the
calls that follow one ``configure_noise``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from noisybnn_host import packing
from noisybnn_host._hwref import injector as hw
from noisybnn_host._hwref import registers
from noisybnn_host.errors import BoardUnavailableError, ManifestError
from noisybnn_host.manifest import Manifest, load_manifest

__all__ = ["NoisyBNNOverlay", "import_pynq", "injector_configs"]

#: FINN IODMA (HLS ap_ctrl_hs) registers, as FINN's driver uses them.
IODMA_CTRL, IODMA_ADDR, IODMA_COUNT = 0x00, 0x10, 0x1C
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4


def import_pynq():
    """The `pynq` module, or BoardUnavailableError in one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pynq
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "pynq"
        raise BoardUnavailableError(
            f"PYNQ is not available here (no module {missing!r}): run this on the board "
            "(PYNQ-Z2 image, as root in the pynq venv) or on an Alveo host with pynq and XRT"
        ) from None
    except Exception as exc:  # pynq's import probes the platform; keep its noise out
        raise BoardUnavailableError(
            f"PYNQ failed to start here ({type(exc).__name__}: {_first_line(exc)}): run this "
            "on the board or on an Alveo host with XRT sourced"
        ) from None
    return pynq


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --- noise settings -> injector configurations ---------------------------------------------


def _field(setting: Any, name: str, default=None):
    if isinstance(setting, dict):
        return setting.get(name, default)
    return getattr(setting, name, default)


def injector_configs(setting: Any, manifest: Manifest) -> list:
    """One `InjectorConfig` per injector of the manifest, for a noise setting.

    `setting` is a `noisybnn.backends.base.NoiseSetting`, or anything with its fields (`mode`,
    `p`, `seed`, `layers`, `fault_masks`; a dict works too). Injectors of layers outside
    `setting.layers` are set to mode "off" (they still count beats).
    """
    mode = hw.Mode.parse(_field(setting, "mode", "flip"))
    threshold = hw.threshold_from_p(_field(setting, "p", 0.0))
    seed = hw.check_seed(_field(setting, "seed", 1))
    known = manifest.injector_layers
    layers = _field(setting, "layers", None)
    if layers is not None:
        layers = {int(i) for i in layers}
        unknown = sorted(layers - set(known))
        if unknown:
            raise ValueError(
                f"layers {unknown} have no injector in this bitstream; it has injectors after "
                f"hidden layers {known}"
            )
    masks = {int(k): v for k, v in (_field(setting, "fault_masks", None) or {}).items()}
    unknown = sorted(set(masks) - set(known))
    if unknown:
        raise ValueError(
            f"fault masks given for layers {unknown}, which have no injector (injectors: {known})"
        )
    configs = []
    for inj in manifest.injectors:
        active = layers is None or inj.layer in layers
        configs.append(
            hw.InjectorConfig(
                neurons=inj.neurons,
                pe=inj.pe,
                bits=inj.bits,
                mode=mode if active else hw.Mode.OFF,
                threshold=threshold,
                seed=hw.derive_layer_seed(seed, inj.layer),
                fault_mask=masks.get(inj.layer) if active else None,
            )
        )
    return configs


#: The setting written when an overlay is loaded: all injectors pass the stream through.
NOISE_OFF = {"mode": "off", "p": 0.0, "seed": 1}


# --- DMA engines ----------------------------------------------------------------------------


class _Dma:
    """Starts the input and output transfers of `n` items and waits for them."""

    def start(self, ibuf, obuf, n: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def wait(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class _AxiDma(_Dma):
    """Xilinx AXI DMA (pynq.lib.dma.DMA): MM2S feeds the input stream, S2MM takes the output."""

    def __init__(self, idma, odma):
        self.send = idma.sendchannel
        self.recv = odma.recvchannel

    def start(self, ibuf, obuf, n):
        self.recv.transfer(obuf[:n])  # arm the receiver before data flows
        self.send.transfer(ibuf[:n])

    def wait(self):
        self.send.wait()
        self.recv.wait()


class _FinnIodma(_Dma):
    """FINN's IODMA cores of the Zynq shell, driven through their HLS control registers."""

    def __init__(self, idma, odma, timeout_s: float):
        self.idma, self.odma, self.timeout_s = idma, odma, timeout_s

    def start(self, ibuf, obuf, n):
        if not self.odma.read(IODMA_CTRL) & AP_IDLE:
            raise RuntimeError(
                "the output DMA is still busy from an earlier run; reload the overlay"
            )
        self.idma.write(IODMA_ADDR, ibuf.device_address)
        self.idma.write(IODMA_COUNT, n)
        self.odma.write(IODMA_ADDR, obuf.device_address)
        self.odma.write(IODMA_COUNT, n)
        self.idma.write(IODMA_CTRL, AP_START)
        self.odma.write(IODMA_CTRL, AP_START)

    def wait(self):
        deadline = time.monotonic() + self.timeout_s
        while not self.odma.read(IODMA_CTRL) & AP_DONE:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the accelerator did not finish within {self.timeout_s} s (output DMA never "
                    "reported done): the stream stalled; check that bitfile and manifest belong "
                    "together, then reload the overlay"
                )


class _AlveoKernels(_Dma):
    """The IODMA kernels of an Alveo xclbin, started through pynq's kernel interface."""

    def __init__(self, idma, odma):
        self.idma, self.odma = idma, odma
        self.handles = []

    def start(self, ibuf, obuf, n):
        if self.handles:
            raise RuntimeError("the output DMA is already running; wait for it first")
        self.handles = [self.idma.start(ibuf, n), self.odma.start(obuf, n)]

    def wait(self):
        if not self.handles:
            raise RuntimeError("no transfer to wait for; call execute_on_buffers first")
        handles, self.handles = self.handles, []
        for h in reversed(handles):  # the output first: it finishes last
            if h is not None:
                h.wait()


# --- the overlay ----------------------------------------------------------------------------


class NoisyBNNOverlay:
    """A noisybnn accelerator loaded on a PYNQ board (or an Alveo card through pynq).

    Args:
        bitfile: the .bit (Zynq, with its .hwh beside it) or .xclbin (Alveo); None takes the
            manifest's.
        manifest: path to manifest.json, a dict or a `Manifest`; None reads manifest.json next to
            the bitfile.
        batch_size: images per DMA transfer (the size of the buffers); `execute` takes any
            number of images and splits them.
        device: a pynq.Device (None: the default one).
        download: program the FPGA (False: attach to the bitstream already loaded).
        expect_model_sha256: refuse a bitstream built from another model.
        timeout_s: how long to wait for one DMA transfer (FINN IODMA only).

    Raises:
        BoardUnavailableError: pynq or an FPGA device is missing (one line, no traceback).
        ManifestError: the manifest is invalid or does not match the bitfile, model or hardware.
        FileNotFoundError: bitfile, .hwh or manifest missing.
    """

    def __init__(
        self,
        bitfile: str | Path | None = None,
        manifest: str | Path | dict | Manifest | None = None,
        batch_size: int = 1,
        device: Any = None,
        *,
        download: bool = True,
        expect_model_sha256: str | None = None,
        timeout_s: float = 10.0,
    ):
        self.manifest = _resolve_manifest(manifest, bitfile)
        self.bitfile = self.manifest.check_bitfile(self.manifest.bitfile_path(bitfile))
        self.manifest.check_model(sha256=expect_model_sha256)
        self.io = self.manifest.io
        self.platform = self.manifest.platform
        self._idt = self.io.input_type
        self._odt = self.io.output_type
        self.ibuf_packed_device = None
        self.obuf_packed_device = None
        self._batch_size = 0
        self._pynq = import_pynq()
        self.device = device
        self.overlay = self._load(download)
        self._dma = self._find_dma(timeout_s)
        self._set_clock()
        self._mmio = [self._attach_injector(inj) for inj in self.manifest.injectors]
        self._hw_params = [self._read_params(inj, m)
                           for inj, m in zip(self.manifest.injectors, self._mmio)]
        self.noise_configs: list = []
        self.batch_size = batch_size
        self.configure_noise(NOISE_OFF)

    # --- loading ------------------------------------------------------------------------------

    def _load(self, download: bool):
        pynq = self._pynq
        if self.device is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    devices = list(pynq.Device.devices)
            except Exception as exc:
                raise BoardUnavailableError(
                    f"PYNQ found no FPGA device here ({_first_line(exc)}): run this on the "
                    "board, or on an Alveo host with XRT sourced"
                ) from None
            if not devices:
                raise BoardUnavailableError(
                    "PYNQ found no FPGA device here (No Devices Found): run this on the board, "
                    "or on an Alveo host with XRT sourced"
                )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pynq.Overlay(str(self.bitfile), download=download, device=self.device)
        except RuntimeError as exc:
            if "no devices" in str(exc).lower():
                raise BoardUnavailableError(
                    "PYNQ found no FPGA device here (No Devices Found): run this on the board, "
                    "or on an Alveo host with XRT sourced"
                ) from None
            raise RuntimeError(f"PYNQ could not load {self.bitfile}: {_first_line(exc)}") from exc

    def _ip(self, name: str, role: str):
        ip_dict = getattr(self.overlay, "ip_dict", {}) or {}
        if name not in ip_dict:
            listed = ", ".join(sorted(ip_dict)) or "none"
            raise ManifestError(
                f"the {role} {name!r} named by the manifest is not in the bitstream (IP blocks: "
                f"{listed}); the manifest does not belong to this bitfile"
            )
        return getattr(self.overlay, name)

    def _find_dma(self, timeout_s: float) -> _Dma:
        idma = self._ip(self.io.idma_name, "input DMA")
        odma = self._ip(self.io.odma_name, "output DMA")
        if self.platform == "zynq-axidma":
            return _AxiDma(idma, odma)
        if self.platform == "zynq-iodma":
            return _FinnIodma(idma, odma, timeout_s)
        return _AlveoKernels(idma, odma)

    def _set_clock(self) -> None:
        fclk = self.manifest.fclk_mhz
        if self.platform.startswith("zynq") and fclk:
            self._pynq.ps.Clocks.fclk0_mhz = fclk

    def _attach_injector(self, inj):
        cell = inj.instance or inj.name  # PYNQ lists the partition cell, not the node in it
        ip = (getattr(self.overlay, "ip_dict", {}) or {}).get(cell)
        if ip is not None and "phys_addr" in ip and int(ip["phys_addr"]) != inj.axilite_base:
            raise ManifestError(
                f"injector {inj.name!r} ({cell}): the manifest puts it at {inj.axilite_base:#x}, "
                f"the bitstream at {int(ip['phys_addr']):#x}; the manifest does not belong to "
                "this bitfile"
            )
        kwargs = {} if self.device is None else {"device": self.device}
        return self._pynq.MMIO(inj.axilite_base, registers.ADDR_SPACE, **kwargs)

    def _read_params(self, inj, mmio):
        words = [int(mmio.read(off)) for off in
                 (registers.ID, registers.PARAMS, registers.NEURONS, registers.CAPS)]
        try:
            params = registers.decode_params(*words)
        except ValueError as exc:
            raise ManifestError(f"injector {inj.name!r} at {inj.axilite_base:#x}: {exc}") from None
        got, want = (params.pe, params.bits, params.neurons), (inj.pe, inj.bits, inj.neurons)
        if got != want:
            raise ManifestError(
                f"injector {inj.name!r} reports (pe, bits, neurons) = {got}, the manifest says "
                f"{want}; the manifest does not belong to this bitfile"
            )
        return params

    # --- shapes and buffers, as FINN's driver ---------------------------------------------------

    @property
    def num_classes(self) -> int:
        return self.manifest.num_classes

    @property
    def injector_widths(self) -> list[int]:
        return [inj.neurons for inj in self.manifest.injectors]

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"batch_size must be a positive integer, got {value!r}")
        self._free_buffers()
        self._batch_size = int(value)
        self.ibuf_packed_device = self._allocate(self.io.shape("ishape_packed", value))
        self.obuf_packed_device = self._allocate(self.io.shape("oshape_packed", value))

    def _allocate(self, shape):
        kwargs = {"shape": shape, "dtype": np.uint8}
        if self.platform != "alveo":
            kwargs["cacheable"] = True  # flushed / invalidated around every transfer
        if self.device is not None:
            kwargs["target"] = self.device
        return self._pynq.allocate(**kwargs)

    def _free_buffers(self) -> None:
        for name in ("ibuf_packed_device", "obuf_packed_device"):
            buf = getattr(self, name, None)
            if buf is not None and hasattr(buf, "freebuffer"):
                buf.freebuffer()
            setattr(self, name, None)

    def close(self) -> None:
        """Free the DMA buffers."""
        self._free_buffers()

    # --- the execute pipeline -----------------------------------------------------------------

    def check_input(self, images: np.ndarray) -> np.ndarray:
        """Validate a batch; return it in the normal shape (N, ...) of the input stream."""
        arr = np.asarray(images)
        per_item = self.io.input_elements
        normal = self.io.ishape_normal[1:]
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
            raise ValueError(
                f"images must be an integer array of datatype {self._idt.name} (for pixels: "
                f"uint8 0..255, not normalised floats), got dtype {arr.dtype}"
            )
        if arr.ndim < 2 or int(np.prod(arr.shape[1:])) != per_item:
            raise ValueError(
                f"images must have shape (N, {', '.join(map(str, normal))}) or any (N, ...) with "
                f"{per_item} values per image, got {arr.shape}"
                + ("; for one image pass images[None]" if arr.size == per_item else "")
            )
        self._idt.check(arr, "images")
        return arr.reshape((arr.shape[0],) + tuple(normal))

    def fold_input(self, ibuf_normal: np.ndarray) -> np.ndarray:
        """(n, normal...) -> (n, folded...): one beat per innermost row."""
        return packing.fold(ibuf_normal, self.io.ishape_folded)

    def pack_input(self, ibuf_folded: np.ndarray) -> np.ndarray:
        """Folded values -> packed bytes (n, ishape_packed[1:])."""
        return packing.pack(ibuf_folded, self._idt)

    def copy_input_data_to_device(self, data: np.ndarray) -> None:
        """Copy packed bytes into the first rows of the input buffer and flush the cache."""
        n = data.shape[0]
        np.copyto(self.ibuf_packed_device[:n], data)
        self.ibuf_packed_device.flush()

    def execute_on_buffers(self, asynch: bool = False, batch_size: int | None = None) -> None:
        """Run the accelerator on the first `batch_size` items of the buffers."""
        n = self._batch_size if batch_size is None else int(batch_size)
        if not 1 <= n <= self._batch_size:
            raise ValueError(f"batch_size must be in 1..{self._batch_size} (the buffers), got {n}")
        self._dma.start(self.ibuf_packed_device, self.obuf_packed_device, n)
        if not asynch:
            self.wait_until_finished()

    def wait_until_finished(self) -> None:
        """Block until the output DMA has written its last item."""
        self._dma.wait()

    def copy_output_data_from_device(self, n: int | None = None) -> np.ndarray:
        """Invalidate the cache over the output buffer; return a copy of its first n rows."""
        n = self._batch_size if n is None else n
        self.obuf_packed_device.invalidate()
        return np.array(self.obuf_packed_device[:n], dtype=np.uint8, copy=True)

    def unpack_output(self, obuf_packed: np.ndarray) -> np.ndarray:
        """Packed bytes -> folded integer values (int64)."""
        return packing.unpack(obuf_packed, self._odt, self.io.oshape_folded)

    def unfold_output(self, obuf_folded: np.ndarray) -> np.ndarray:
        return packing.unfold(obuf_folded, self.io.oshape_normal)

    def execute(self, images: np.ndarray, reseed: bool = True) -> np.ndarray:
        """Integer outputs (N, num_classes) int64 for a batch of images (N, 784) or (N, 28, 28).

        Reseeds every injector first (one call = one run; see the module docs) unless
        `reseed=False`. More images than `batch_size` run as several transfers of one run.
        """
        x = self.check_input(images)
        n_total = x.shape[0]
        out = np.empty((n_total,) + tuple(self.io.oshape_normal[1:]), dtype=np.int64)
        if reseed:
            self.reseed()
        bs = self._batch_size
        for start in range(0, n_total, bs):
            n = min(bs, n_total - start)
            ibuf_folded = self.fold_input(x[start:start + n])
            ibuf_packed = self.pack_input(ibuf_folded)
            self.copy_input_data_to_device(ibuf_packed)
            self.execute_on_buffers(batch_size=n)
            obuf_packed = self.copy_output_data_from_device(n)
            obuf_folded = self.unpack_output(obuf_packed)
            out[start:start + n] = self.unfold_output(obuf_folded)
        return out.reshape(n_total, self.num_classes)

    # --- noise ----------------------------------------------------------------------------------

    def configure_noise(self, setting: Any) -> list:
        """Program every injector for `setting` (see `injector_configs`); returns the configs.

        Writes `registers.encode(cfg)` to each injector in manifest order: CONTROL off,
        THRESHOLD, SEED, MASK words, RESEED, CONTROL on. The stream must be idle (it is between
        calls). The next `execute` reseeds again before its first transfer.
        """
        configs = injector_configs(setting, self.manifest)
        for params, cfg in zip(self._hw_params, configs):
            registers.check_config(params, cfg)
        for mmio, cfg in zip(self._mmio, configs):
            for offset, value in registers.encode(cfg):
                mmio.write(offset, value)
        self.noise_configs = configs
        return configs

    def reseed(self) -> None:
        """Write the RESEED strobe to every injector: reload LFSRs from SEED, clear counters."""
        for mmio in self._mmio:
            mmio.write(registers.RESEED, 1)

    def counters(self) -> list:
        """`registers.Counters` (beats, bits_changed) of each injector since its last reseed."""
        out = []
        for inj, params, mmio in zip(self.manifest.injectors, self._hw_params, self._mmio):
            if not params.counters:
                raise RuntimeError(f"injector {inj.name!r} was built without counters")
            out.append(registers.read_counters(lambda off, m=mmio: int(m.read(off))))
        return out

    def flip_counts(self) -> list[int]:
        """Bits changed by each injector since the last reseed (the hardware counters)."""
        return [c.bits_changed for c in self.counters()]

    # --- figures --------------------------------------------------------------------------------

    def throughput_test(self, n_images: int | None = None) -> dict:
        """Time the accelerator on full buffers and each driver step; FINN's keys.

        `n_images` sets the batch for the test (the buffers are reallocated, then restored).
        The run advances the injectors: the next `execute` reseeds anyway.
        """
        saved = self._batch_size
        if n_images is not None and n_images != saved:
            self.batch_size = n_images
        try:
            res = self._throughput()
        finally:
            if self._batch_size != saved:
                self.batch_size = saved
        return res

    def _throughput(self) -> dict:
        bs = self._batch_size
        rng = np.random.default_rng(0)
        x = rng.integers(self._idt.min, self._idt.max + 1,
                         size=self.io.shape("ishape_normal", bs), dtype=np.int64)
        res: dict = {}
        t = time.perf_counter()
        self.execute_on_buffers()
        runtime = max(time.perf_counter() - t, 1e-9)
        res["runtime[ms]"] = runtime * 1e3
        res["throughput[images/s]"] = bs / runtime
        res["DRAM_in_bandwidth[MB/s]"] = bs * self.io.input_bytes * 1e-6 / runtime
        res["DRAM_out_bandwidth[MB/s]"] = bs * self.io.output_bytes * 1e-6 / runtime
        res["fclk[mhz]"] = self._fclk_mhz()
        res["batch_size"] = bs
        folded, res["fold_input[ms]"] = _timed(self.fold_input, x)
        packed, res["pack_input[ms]"] = _timed(self.pack_input, folded)
        _, res["copy_input_data_to_device[ms]"] = _timed(self.copy_input_data_to_device, packed)
        obuf, res["copy_output_data_from_device[ms]"] = _timed(
            self.copy_output_data_from_device, bs)
        ofolded, res["unpack_output[ms]"] = _timed(self.unpack_output, obuf)
        _, res["unfold_output[ms]"] = _timed(self.unfold_output, ofolded)
        return res

    def _fclk_mhz(self):
        try:
            if self.platform.startswith("zynq"):
                return float(self._pynq.ps.Clocks.fclk0_mhz)
            return float(self.overlay.clock_dict["clock0"]["frequency"])
        except Exception:  # a figure, not a reason to fail the test
            return None

    def __repr__(self) -> str:
        m = self.manifest
        return (f"NoisyBNNOverlay({m.model_name!r} on {m.board}, {self.platform}, "
                f"{len(m.injectors)} injectors, batch_size={self._batch_size})")


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, (time.perf_counter() - t) * 1e3


def _resolve_manifest(manifest, bitfile) -> Manifest:
    if isinstance(manifest, Manifest):
        return manifest
    if isinstance(manifest, dict):
        return Manifest.from_dict(manifest)
    if manifest is None:
        if bitfile is None:
            raise ValueError("give a bitfile, a manifest, or both")
        manifest = Path(bitfile).parent / "manifest.json"
    return load_manifest(manifest)

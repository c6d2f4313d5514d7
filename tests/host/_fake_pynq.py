"""A tests-only stand-in for `pynq`, with a fake accelerator behind it.

`FakeBoard` is the hardware: a tiny binarized MLP (784 -> hidden... -> classes) whose hidden
streams pass through register-programmed noise injectors, DMA engines of the three platforms
(FINN IODMA, Xilinx AXI DMA, Alveo kernels), and DRAM with a cache model (the device sees a
buffer's bytes only after `flush`; the CPU sees the device's writes only after `invalidate`).
The device decodes the packed input bytes and encodes its output with its own plain-Python bit
code, independent of noisybnn_host.packing, so a driver that packs wrongly gets wrong answers.

`make_module(board)` returns a module object to put in sys.modules["pynq"].
"""

from __future__ import annotations

import hashlib
import types

import numpy as np

from noisybnn.hw import injector as hw
from noisybnn.hw import registers as reg

MASK32 = 0xFFFFFFFF


# --- independent bit code (what the FPGA's stream width converters do) ----------------------


def decode_beats(raw: bytes, elems: int, bits: int, signed: bool) -> list[int]:
    bpb = -(-elems * bits // 8)
    out = []
    for b in range(len(raw) // bpb):
        word = int.from_bytes(raw[b * bpb:(b + 1) * bpb], "little")
        for i in range(elems):
            v = (word >> (i * bits)) & ((1 << bits) - 1)
            if signed and v >> (bits - 1):
                v -= 1 << bits
            out.append(v)
    return out


def encode_beats(values, elems: int, bits: int) -> bytes:
    bpb = -(-elems * bits // 8)
    vals = [int(v) for v in values]
    out = bytearray()
    for b in range(len(vals) // elems):
        word = 0
        for i in range(elems):
            word |= (vals[b * elems + i] & ((1 << bits) - 1)) << (i * bits)
        out += word.to_bytes(bpb, "little")
    return bytes(out)


# --- memory ---------------------------------------------------------------------------------


class FakeBuffer(np.ndarray):
    """pynq.allocate's PynqBuffer: an ndarray with a device address, flush and invalidate."""

    def __array_finalize__(self, obj):
        if obj is None:
            return
        self.board = getattr(obj, "board", None)
        root = getattr(obj, "_root", None)
        self._root = root
        self.device_address = None
        if root is not None:
            offset = self.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            self.device_address = root.device_address + offset

    @property
    def physical_address(self):
        return self.device_address

    def _span(self):
        root = self._root
        if root is None or root.freed:
            raise RuntimeError("buffer freed or not allocated by pynq")
        off = self.device_address - root.device_address
        return root, off

    def flush(self):
        root, off = self._span()
        self.board.log.append(("flush", self.device_address, self.nbytes))
        root.dram[off:off + self.nbytes] = np.ascontiguousarray(self).tobytes()

    def invalidate(self):
        root, off = self._span()
        self.board.log.append(("invalidate", self.device_address, self.nbytes))
        view = np.frombuffer(bytes(root.dram[off:off + self.nbytes]), dtype=self.dtype)
        np.copyto(self, view.reshape(self.shape))

    sync_to_device = flush
    sync_from_device = invalidate

    def freebuffer(self):
        if self._root is self and not self.freed:
            self.freed = True
            self.board.log.append(("free", self.device_address))
            self.board.memory.pop(self.device_address, None)


# --- injectors ------------------------------------------------------------------------------


class FakeInjector:
    """The injector's AXI-Lite registers (docs/injector.md) and its effect on a stream."""

    def __init__(self, board, name, base, neurons, pe, bits=1, counters=True):
        self.board, self.name, self.base = board, name, base
        self.neurons, self.pe, self.bits = neurons, pe, bits
        self.regs = {reg.ID: reg.ID_VALUE,
                     reg.PARAMS: (reg.MAP_VERSION << 24) | (bits << 16) | pe,
                     reg.NEURONS: neurons, reg.CAPS: int(counters)}
        self.readonly = set(self.regs)
        self.beats = 0
        self.changes = 0
        self._latched = {}
        self.seed_regs = {}

    def write(self, offset, value):
        self.board.log.append(("mmio.write", self.name, offset, int(value)))
        if offset in self.readonly:
            raise AssertionError(f"write to read-only register {offset:#x}")
        if offset in (reg.SEED_LO, reg.SEED_HI):  # write-only in the RTL: reads return 0
            self.seed_regs[offset] = int(value) & MASK32
        if offset == reg.RESEED:
            if value & 1:
                self.beats = 0
                self.changes = 0
            return
        if offset not in self.seed_regs:
            self.regs[offset] = int(value) & MASK32

    def read(self, offset):
        self.board.log.append(("mmio.read", self.name, offset))
        wrap = (1 << reg.COUNTER_BITS) - 1  # the RTL's counters are 48 bits
        if offset == reg.BEATS_LO:
            self._latched[reg.BEATS_HI] = (self.beats & wrap) >> 32
            return self.beats & MASK32
        if offset == reg.CHANGES_LO:
            self._latched[reg.CHANGES_HI] = (self.changes & wrap) >> 32
            return self.changes & MASK32
        if offset in (reg.BEATS_HI, reg.CHANGES_HI):
            return self._latched.pop(offset)
        # map version 3 on: only the identification registers read back; the rest read 0
        return self.regs.get(offset, 0) if offset in self.readonly else 0

    def config(self) -> hw.InjectorConfig:
        """What the registers say, read the way the RTL reads them."""
        ctrl = self.regs.get(reg.CONTROL, 0)
        mode = hw.Mode((ctrl >> 1) & 3) if ctrl & 1 else hw.Mode.OFF
        word = self.seed_regs.get(reg.SEED_LO, 0) | self.seed_regs.get(reg.SEED_HI, 0) << 32
        seed = hw.unsplitmix64(word)  # SEED holds the seed word splitmix64(master seed)
        words = [self.regs.get(reg.MASK_BASE + 4 * k, 0)
                 for k in range(reg.mask_words(self.pe, self.neurons))]
        bit = [reg.mask_bit_index(self.pe, j) for j in range(self.neurons)]  # fold order (v4)
        mask = tuple(bool(words[b // 32] >> (b % 32) & 1) for b in bit)
        return hw.InjectorConfig(neurons=self.neurons, pe=self.pe, bits=self.bits, mode=mode,
                                 threshold=self.regs.get(reg.THRESHOLD, 0), seed=seed,
                                 fault_mask=mask)


# --- DMA engines ----------------------------------------------------------------------------


class _Channel:
    def __init__(self, dma, direction):
        self.dma, self.direction = dma, direction
        self.pending = None

    def transfer(self, array, start=0, nbytes=0):
        self.dma.board.log.append((f"dma.{self.direction}.transfer", array.device_address,
                                   array.nbytes))
        self.pending = (array.device_address, array.nbytes)
        self.dma.maybe_run()

    def wait(self):
        self.dma.board.log.append((f"dma.{self.direction}.wait",))
        if self.pending is not None:
            raise AssertionError("waited on a channel whose transfer never completed")


class FakeAxiDma:
    def __init__(self, board):
        self.board = board
        self.sendchannel = _Channel(self, "send")
        self.recvchannel = _Channel(self, "recv")

    def maybe_run(self):
        if self.sendchannel.pending and self.recvchannel.pending:
            (iaddr, inb), (oaddr, onb) = self.sendchannel.pending, self.recvchannel.pending
            n = inb // self.board.in_bytes
            assert onb == n * self.board.out_bytes, "output transfer size does not match input"
            self.board.run(iaddr, oaddr, n)
            self.sendchannel.pending = self.recvchannel.pending = None


class FakeIodma:
    """FINN IODMA: ap_ctrl at 0x00 (start, done clear-on-read, idle), address 0x10, count 0x1C."""

    def __init__(self, board, name):
        self.board, self.name = board, name
        self.regs = {}
        self.done = False

    def write(self, offset, value):
        self.board.log.append(("iodma.write", self.name, offset, int(value)))
        self.regs[offset] = int(value)
        if offset == 0x00 and value & 1:
            self.board.iodma_started(self)

    def read(self, offset):
        if offset == 0x00:
            done, self.done = self.done, False
            return 0x4 | (0x2 if done else 0)
        return self.regs.get(offset, 0)


class _Handle:
    def __init__(self, board, name):
        self.board, self.name = board, name

    def wait(self):
        self.board.log.append(("kernel.wait", self.name))


class FakeKernel:
    def __init__(self, board, name):
        self.board, self.name = board, name

    def start(self, buf, n):
        self.board.log.append(("kernel.start", self.name, buf.device_address, int(n)))
        self.board.kernel_started(self.name, buf.device_address, int(n))
        return _Handle(self.board, self.name)


# --- the board ------------------------------------------------------------------------------


class FakeBoard:
    """Hardware behind the fake pynq. Weights are fixed by `seed`; all integer arithmetic."""

    def __init__(self, platform="zynq-iodma", simd=16, hidden=((64, 16), (32, 8)),
                 num_classes=10, pe_out=5, odt_bits=7, seed=0, counters=True):
        rng = np.random.default_rng(seed)
        self.platform = platform
        self.simd, self.hidden, self.num_classes = simd, hidden, num_classes
        self.pe_out, self.odt_bits = pe_out, odt_bits
        widths = [784] + [h for h, _ in hidden] + [num_classes]
        self.weights = [rng.choice(np.array([-1, 1]), size=(o, i))
                        for i, o in zip(widths[:-1], widths[1:], strict=True)]
        self.in_bytes = 784 // simd * simd          # UINT8: one byte per pixel
        self.out_bytes = num_classes // pe_out * -(-pe_out * odt_bits // 8)
        self.log: list[tuple] = []
        self.memory: dict[int, FakeBuffer] = {}
        self._next_addr = 0x1000_0000
        self.injectors = {}
        for layer, (neurons, pe) in enumerate(hidden):
            base = 0x43C1_0000 + layer * 0x1_0000
            # FINN's names: the node NoiseInjector_rtl_k sits alone in a dataflow partition, the
            # block-design cell PYNQ lists (idma0 is partition 0, the first MVAU partition 1)
            inj = FakeInjector(self, f"NoiseInjector_rtl_{layer}", base, neurons, pe,
                               counters=counters)
            inj.instance = f"StreamingDataflowPartition_{2 * layer + 2}"
            self.injectors[base] = inj
        if platform == "zynq-axidma":
            dma = FakeAxiDma(self)
            self.ips = {"axi_dma_0": dma}
            self.ip_dict = {"axi_dma_0": {"phys_addr": 0x4040_0000, "type":
                                          "xilinx.com:ip:axi_dma:7.1"}}
        elif platform == "zynq-iodma":
            self.ips = {"idma0": FakeIodma(self, "idma0"), "odma0": FakeIodma(self, "odma0")}
            self.ip_dict = {n: {"phys_addr": a, "type": f"xilinx.com:hls:{n}:1.0"}
                            for n, a in (("idma0", 0x43C0_0000), ("odma0", 0x43C2_0000 + 0xF0000))}
        else:
            self.ips = {"idma0": FakeKernel(self, "idma0"), "odma0": FakeKernel(self, "odma0")}
            self.ip_dict = {n: {"phys_addr": 0, "type": "xilinx.com:hls:" + n}
                            for n in ("idma0", "odma0")}
        for inj in self.injectors.values():
            self.ip_dict[inj.instance] = {"phys_addr": inj.base,
                                          "type": f"xilinx.com:finn:{inj.instance}:1.0"}
        self._started = {}
        self.dma_runs = 0

    # manifest and files

    def manifest_dict(self, bitfile="accel.bit", model_sha="ab" * 32, bitfile_sha=None):
        nf_in = 784 // self.simd
        nf_out = self.num_classes // self.pe_out
        io = {
            "idt": "UINT8", "odt": f"INT{self.odt_bits}",
            "ishape_normal": [1, 784], "ishape_folded": [1, nf_in, self.simd],
            "ishape_packed": [1, nf_in, self.simd],
            "oshape_normal": [1, self.num_classes], "oshape_folded": [1, nf_out, self.pe_out],
            "oshape_packed": [1, nf_out, -(-self.pe_out * self.odt_bits // 8)],
        }
        if self.platform == "zynq-axidma":
            io["idma_names"] = io["odma_names"] = ["axi_dma_0"]
        d = {
            "schema_version": 1,
            "model": "fake-mlp",
            "checkpoint_sha256": model_sha,
            "board": "Pynq-Z2" if self.platform != "alveo" else "U250",
            "platform": self.platform,
            "bitfile": bitfile,
            "fclk_mhz": 100.0,
            "io": io,
            "num_classes": self.num_classes,
            "injectors": [
                {"layer": k, "name": inj.name, "instance": inj.instance, "neurons": inj.neurons,
                 "pe": inj.pe, "dtype": "BINARY", "axilite_base": hex(inj.base)}
                for k, inj in enumerate(self.injectors.values())
            ],
        }
        if bitfile_sha:
            d["bitfile_sha256"] = bitfile_sha
        return d

    def write_files(self, folder, name="accel", **kw):
        """Write <name>.bit/.hwh (or .xclbin) and manifest.json into `folder`; return paths."""
        import json

        suffix = ".xclbin" if self.platform == "alveo" else ".bit"
        bit = folder / f"{name}{suffix}"
        bit.write_bytes(b"fake bitstream " + self.platform.encode())
        if suffix == ".bit":
            bit.with_suffix(".hwh").write_text("<hwh/>")
        sha = hashlib.sha256(bit.read_bytes()).hexdigest()
        man = folder / "manifest.json"
        man.write_text(json.dumps(self.manifest_dict(bit.name, bitfile_sha=sha, **kw)))
        return bit, man

    # the network

    def forward(self, images, configs, start_beats):
        """Integer logits of uint8 images (n, 784) with one injector config per hidden layer."""
        a = np.asarray(images, dtype=np.int64).reshape(-1, 784) - 128
        n = a.shape[0]
        changed = []
        for layer, (cfg, start) in enumerate(zip(configs, start_beats, strict=True)):
            bits = (a @ self.weights[layer].T >= 0).astype(np.int64)
            stream = bits.reshape(n * cfg.nf, cfg.pe)
            out, c = hw.inject_stream(cfg, stream, start_beat=start)
            changed.append(c)
            a = 2 * out.reshape(n, cfg.neurons) - 1
        return a @ self.weights[-1].T, changed

    def run(self, in_addr, out_addr, n):
        """One DMA run of n items: bytes from DRAM at in_addr to DRAM at out_addr."""
        self.dma_runs += 1
        src, soff = self._resolve(in_addr)
        raw = bytes(src.dram[soff:soff + n * self.in_bytes])
        pixels = np.array(decode_beats(raw, self.simd, 8, False)).reshape(n, 784)
        injs = list(self.injectors.values())
        configs = [inj.config() for inj in injs]
        logits, changed = self.forward(pixels, configs, [inj.beats for inj in injs])
        for inj, cfg, c in zip(injs, configs, changed, strict=True):
            inj.beats += n * cfg.nf
            inj.changes += c
        out = encode_beats(logits.reshape(-1), self.pe_out, self.odt_bits)
        dst, doff = self._resolve(out_addr)
        assert len(out) == n * self.out_bytes
        dst.dram[doff:doff + len(out)] = out
        self.log.append(("device.run", n))

    def iodma_started(self, iodma):
        self._started[iodma.name] = iodma
        if {"idma0", "odma0"} <= set(self._started):
            i, o = self._started.pop("idma0"), self._started.pop("odma0")
            n = i.regs[0x1C]
            assert o.regs[0x1C] == n
            self.run(i.regs[0x10], o.regs[0x10], n)
            o.done = True

    def kernel_started(self, name, addr, n):
        self._started[name] = (addr, n)
        if {"idma0", "odma0"} <= set(self._started):
            (ia, n_in), (oa, n_out) = self._started.pop("idma0"), self._started.pop("odma0")
            assert n_in == n_out
            self.run(ia, oa, n_in)

    def _resolve(self, addr):
        for base, buf in self.memory.items():
            if base <= addr < base + buf.nbytes:
                return buf, addr - base
        raise AssertionError(f"DMA to unallocated or freed address {addr:#x}")

    def allocate(self, shape, dtype, **kwargs):
        buf = np.zeros(shape, dtype).view(FakeBuffer)
        buf.board = self
        buf._root = buf
        buf.freed = False
        buf.device_address = self._next_addr
        buf.dram = bytearray(buf.nbytes)
        self._next_addr += (buf.nbytes + 0xFFF) & ~0xFFF or 0x1000
        self.memory[buf.device_address] = buf
        self.log.append(("allocate", tuple(shape), dict(kwargs)))
        return buf


# --- the module -----------------------------------------------------------------------------


class _Overlay:
    def __init__(self, board, bitfile_name, download=True, device=None, **kw):
        board.log.append(("overlay.load", str(bitfile_name), download))
        self._board = board
        self.ip_dict = board.ip_dict
        self.clock_dict = {"clock0": {"frequency": 300.0}}

    def __getattr__(self, name):
        ips = self.__dict__["_board"].ips
        if name in ips:
            return ips[name]
        raise AttributeError(name)


class _MMIO:
    def __init__(self, board, base_addr, length=4, device=None, **kw):
        if base_addr not in board.injectors:
            raise AssertionError(f"MMIO at {base_addr:#x}: nothing there (a bus hang on Zynq)")
        assert length >= reg.ADDR_SPACE
        self._inj = board.injectors[base_addr]

    def read(self, offset=0, length=4):
        return self._inj.read(offset)

    def write(self, offset, data):
        self._inj.write(offset, data)


def make_module(board: FakeBoard | None, devices: int = 1) -> types.ModuleType:
    """A module to install as sys.modules['pynq'] (board=None: no device found)."""
    mod = types.ModuleType("pynq")
    mod.__version__ = "fake"

    class Device:
        pass

    Device.devices = [object()] * devices if board is not None else []
    mod.Device = Device

    def overlay(bitfile_name, download=True, device=None, **kw):
        if board is None:
            raise RuntimeError("No Devices Found")
        return _Overlay(board, bitfile_name, download, device)

    def allocate(shape, dtype="u4", target=None, **kwargs):
        if board is None:
            raise RuntimeError("No Devices Found")
        if target is not None:
            kwargs["target"] = target
        return board.allocate(shape, dtype, **kwargs)

    mod.Overlay = overlay
    mod.allocate = allocate
    mod.MMIO = lambda base_addr, length=4, device=None, **kw: _MMIO(board, base_addr, length)
    ps = types.ModuleType("pynq.ps")

    class Clocks:
        fclk0_mhz = 50.0

    ps.Clocks = Clocks
    mod.ps = ps
    return mod

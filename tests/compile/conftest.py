"""Builds shared by the compile tests: each shipped model is compiled once per session."""

import pytest

from noisybnn.zoo import checkpoint_path


@pytest.fixture(scope="session")
def build_of(tmp_path_factory):
    """build_of(name, **kw) -> build dir (FINN estimate flow, injectors after every layer)."""
    from noisybnn.pipeline import compile_model

    cache = {}

    def _build(name, **kw):
        key = (name, repr(sorted(kw.items())))
        if key not in cache:
            if not checkpoint_path(name).is_file():
                pytest.skip(f"shipped checkpoint {name} missing")
            out = tmp_path_factory.mktemp(name.replace(".", "_"))
            cache[key] = compile_model(name, out_dir=out, **kw)
        return cache[key]

    return _build

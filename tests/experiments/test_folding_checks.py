"""A folding file FINN would ignore in part (unknown node names, a PE that does not divide the
layer) is refused instead of producing an unfolded build with estimates for the wrong design."""

from __future__ import annotations

import json

import pytest

from noisybnn.errors import ConfigError
from noisybnn.validation import check_folding_applied


@pytest.fixture
def folded(tfc_build):
    path = tfc_build / "intermediate_models" / "step_apply_folding_config.onnx"
    if not path.is_file():
        pytest.skip("the build kept no intermediate models")
    return path


@pytest.mark.parametrize("cfg,match", [
    ({"MVAU_0": {"PE": 16}}, "names node.s. MVAU_0 that the build does not have"),
    ({"MVAU_hls_0": {"PE": 7, "SIMD": 49}}, "PE=7 does not divide its MH=64"),
    ({"MVAU_hls_0": {"PE": 16, "SIMD": 48}}, "SIMD=48 does not divide its MW=784"),
])
def test_folding_that_finn_would_not_apply_is_refused(folded, tmp_path, cfg, match):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=match):
        check_folding_applied(f, folded)


def test_valid_folding_passes(folded, tmp_path):
    f = tmp_path / "fold.json"
    f.write_text(json.dumps({"Defaults": {}, "MVAU_hls_0": {"PE": 16, "SIMD": 49}}))
    check_folding_applied(f, folded)

"""The sweep grid: parsers, spec checks, point keys, fault masks, run order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisybnn.experiments import (
    SweepError,
    SweepSpec,
    fault_masks,
    parse_eps,
    parse_ints,
    parse_layers,
    parse_modes,
    parse_seeds,
)
from noisybnn.experiments.grid import ModelRef, Point, expand, fault_spec_text, layers_to_text

REF = ModelRef(entry="b", name="m", build_dir="/b", model_sha256="a" * 64,
               build_sha256="b" * 64, injector_widths=(64, 64, 64))


# --- parsers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0,0.01,0.05", [0.0, 0.01, 0.05]),
        (" 0.1 ", [0.1]),
        ("0:0.05:0.01", [0.0, 0.01, 0.02, 0.03, 0.04, 0.05]),  # inclusive, no 0.030000000004
        ("0,0.1:0.2:0.05", [0.0, 0.1, 0.15, 0.2]),
    ],
)
def test_parse_eps(text, expected):
    assert parse_eps(text) == expected


@pytest.mark.parametrize("text", ["", "0.1,x", "1.5", "-0.01", "nan", "0:1", "0.2:0.1:0.01",
                                  "0:0.1:0"])
def test_parse_eps_rejects(text):
    with pytest.raises(SweepError):
        parse_eps(text)


def test_parse_seeds_layers_modes_ints():
    assert parse_seeds("1,2,7") == [1, 2, 7]
    assert parse_seeds("3-5") == [3, 4, 5]
    assert parse_seeds(3) == [1, 2, 3]  # the CLI's --seeds N
    assert parse_layers("all;0;1,2;none") == [None, (0,), (1, 2), ()]
    assert parse_modes("flip, STUCK0") == ["flip", "stuck0"]
    assert parse_ints("1,4,16") == [1, 4, 16]
    for bad, fn in [("a", parse_seeds), ("flop", parse_modes), ("x", parse_layers),
                    ("-1", parse_layers), ("1.5", parse_ints)]:
        with pytest.raises(SweepError):
            fn(bad)


def test_layers_text_round_trip():
    for layers in (None, (), (0,), (0, 2)):
        assert parse_layers(layers_to_text(layers).replace(";", ","))[0] == layers


# --- the spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, message",
    [
        (dict(eps=[1.5]), "eps"),
        (dict(eps=[math.nan]), "eps"),
        (dict(eps=[-0.1]), "eps"),
        (dict(modes=["flop"]), "unknown mode"),
        (dict(seeds=[-1]), "seed"),
        (dict(seeds=[]), "no seeds"),
        (dict(faults_per_layer=[-2]), "faults_per_layer"),
        (dict(n_images=0), "n_images"),
        (dict(dataset="cifar"), "unknown data set"),
        (dict(split="val"), "split"),
        (dict(models=[]), "no models"),
    ],
)
def test_spec_rejects(kw, message):
    base = dict(models=["b"])
    base.update(kw)
    with pytest.raises(SweepError, match=message):
        SweepSpec(**base)


def test_spec_normalises():
    s = SweepSpec(models="b", eps=(0.1, 0.1, 0), modes="flip", layers=[0, 2], seeds=[2, 1, 2])
    assert s.models == ("b",)
    assert s.eps == (0.1, 0.0)  # duplicates dropped, order kept
    assert s.layers == ((0, 2),)  # a flat list is one layer set
    assert s.seeds == (2, 1)
    assert SweepSpec(models=["b"], layers="all").layers == (None,)
    assert SweepSpec(models=["b"], layers=["all", "0;2", ()]).layers == (None, (0, 2), ())
    assert SweepSpec(models=["b"], dataset="fmnist").dataset == "fashion-mnist"


# --- points ------------------------------------------------------------------------------------


def _point(**kw):
    base = dict(model=REF, backend="sim", dataset="mnist", split="test", n_images=100, seed=1,
                mode="flip", layers=None, eps=0.01)
    base.update(kw)
    return Point(**base)


def test_point_key_deterministic_and_specific():
    assert _point().key == _point().key
    assert len(_point().key) == 16
    keys = {_point().key, _point(eps=0.02).key, _point(seed=2).key, _point(layers=(0,)).key,
            _point(n_images=99).key, _point(backend="pynq").key,
            _point(mode="stuck0", eps=None, faults=1).key,
            _point(model=ModelRef(**{**REF.__dict__, "build_sha256": "c" * 64})).key}
    assert len(keys) == 8
    # the key does not depend on where the build lies, only on what it is
    moved = ModelRef(**{**REF.__dict__, "build_dir": "/elsewhere", "entry": "x"})
    assert _point(model=moved).key == _point().key


def test_fault_masks_seeded_nested_and_per_layer():
    widths = (64, 32, 64)
    m3 = fault_masks(widths, (0, 1), 3, seed=7)
    assert set(m3) == {0, 1}
    assert [sum(m3[i]) for i in (0, 1)] == [3, 3]
    assert len(m3[1]) == 32
    assert fault_masks(widths, (0, 1), 3, seed=7) == m3  # seeded
    assert fault_masks(widths, (0, 1), 3, seed=8) != m3
    m5 = fault_masks(widths, (0, 1), 5, seed=7)
    for i in (0, 1):  # the k=3 set is inside the k=5 set
        assert not np.any(np.array(m3[i]) & ~np.array(m5[i]))
    assert m3[0] != fault_masks((64, 64, 64), (2,), 3, seed=7)[2]  # layers differ
    with pytest.raises(SweepError, match="has 32"):
        fault_masks(widths, (1,), 33, seed=1)
    text = fault_spec_text(m3)
    assert text.startswith("0:") and "|1:" in text


def test_expand_order_and_modes():
    spec = SweepSpec(models=["b"], eps=[0.0, 0.01, 0.05], seeds=[1, 2],
                     modes=["flip", "stuck1", "off"], layers=[None, (2,)], faults_per_layer=[1, 4])
    pts = expand(spec, [REF], "sim", 100)
    flip = [p for p in pts if p.mode == "flip"]
    assert len(flip) == 2 * 2 * 3
    # eps innermost: consecutive runs of one (seed, layers) stream
    assert [p.eps for p in flip[:3]] == [0.0, 0.01, 0.05]
    assert len({p.group for p in flip[:3]}) == 1
    stuck = [p for p in pts if p.mode == "stuck1"]
    assert len(stuck) == 2 * 2 * 2 and all(p.eps is None for p in stuck)
    assert sorted(stuck[0].fault_masks()) == [0, 1, 2]
    assert all(p.fault_masks().keys() == {2} for p in stuck if p.layers == (2,))
    off = [p for p in pts if p.mode == "off"]
    assert len(off) == 1 and off[0].faults is None and off[0].eps is None
    assert len({p.key for p in pts}) == len(pts)

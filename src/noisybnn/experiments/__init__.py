"""Experiments on compiled accelerators: sweeps (serial or on a Dask cluster) and benchmarks.

See docs/experiments.md. The CLI (`noisybnn sweep`, `noisybnn bench`) calls `cli_sweep` and
`bench.cli_bench`.
"""

from noisybnn.experiments.grid import (
    MODES,
    Point,
    SweepError,
    SweepSpec,
    fault_masks,
    parse_eps,
    parse_ints,
    parse_layers,
    parse_modes,
    parse_seeds,
)
from noisybnn.experiments.sweep import cli_sweep, run_sweep, spec_from_args, validate
from noisybnn.experiments.table import (
    COLUMNS,
    VOLATILE_COLUMNS,
    ResultsTable,
    comparable,
    read_table,
)

__all__ = [
    "COLUMNS", "MODES", "VOLATILE_COLUMNS", "Point", "ResultsTable", "SweepError", "SweepSpec",
    "cli_sweep", "comparable", "fault_masks", "parse_eps", "parse_ints", "parse_layers",
    "parse_modes", "parse_seeds", "read_table", "run_sweep", "spec_from_args", "validate",
]

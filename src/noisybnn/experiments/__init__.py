"""Experiments on compiled accelerators: sweeps, design-space exploration, the depth-width
experiment and benchmarks (serial or on a Dask cluster).

One job a module: `grid` (what a sweep covers), `space` (what an exploration covers), `schemas`
and `table` (the keyed results tables), `runner` (serial or Dask tasks), `cache` (trained
checkpoints and builds), `measure` (accuracy on the software accelerator), and the experiments
themselves: `sweep`, `explore`, `depth_width`, `bench`. Their summaries and plots are `report`'s.
See docs/experiments.md.
"""

from noisybnn.experiments.errors import ExploreError, SweepError
from noisybnn.experiments.grid import (
    MODES,
    Point,
    SweepSpec,
    fault_masks,
    parse_eps,
    parse_ints,
    parse_layers,
    parse_modes,
    parse_seeds,
)
from noisybnn.experiments.schemas import DEPTH_WIDTH, EXPLORE, SWEEP
from noisybnn.experiments.sweep import (
    cli_sweep,
    comparable,
    read_table,
    run_sweep,
    spec_from_args,
    validate,
)
from noisybnn.experiments.table import ResultsTable, Schema

#: Columns of the sweep table (`schemas.SWEEP`).
COLUMNS = SWEEP.columns
VOLATILE_COLUMNS = SWEEP.volatile

__all__ = [
    "COLUMNS", "DEPTH_WIDTH", "EXPLORE", "MODES", "SWEEP", "VOLATILE_COLUMNS", "ExploreError",
    "Point", "ResultsTable", "Schema", "SweepError", "SweepSpec", "cli_sweep", "comparable",
    "fault_masks", "parse_eps", "parse_ints", "parse_layers", "parse_modes", "parse_seeds",
    "read_table", "run_sweep", "spec_from_args", "validate",
]

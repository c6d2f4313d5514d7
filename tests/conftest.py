"""Shared test configuration: one global seed, markers are declared in pyproject.toml."""

import os
import random
import sys

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

GLOBAL_SEED = 1234


@pytest.fixture(autouse=True)
def _seed_everything():
    random.seed(GLOBAL_SEED)
    np.random.seed(GLOBAL_SEED)
    torch = sys.modules.get("torch")  # seed torch only where a test uses it (import is slow)
    if torch is not None:
        torch.manual_seed(GLOBAL_SEED)
    yield

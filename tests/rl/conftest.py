"""Shared fixtures of the RL tests: DeepStock setting 1 and one thread per test.

Tiny MLPs on a shared 2-core machine run fastest, and reproducibly, on one intra-op thread.
"""

from __future__ import annotations

import pytest
import torch

from orkit.core import InventoryProblem
from orkit.data import generate


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def setting_1():
    """(train, validation, test, problem) of DeepStock setting 1, seed 0."""
    data = generate("deepstock-1", seed=0)
    return (*data.splits(), InventoryProblem(**data.metadata["problem"]))

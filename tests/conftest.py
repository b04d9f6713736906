"""Settings every test shares.

**Compiled kernels per CPU capability.** torch.compile (inductor) caches its generated C++ and a
precompiled header under one folder per user, whatever kernels ATen was told to use: a header
built under ``ATEN_CPU_CAPABILITY=avx512`` and reused under ``=default`` or ``=avx2`` fails to
compile ("'at::vec' has not been declared"), so the compiled-path tests failed on the second
setting run on one machine. Each capability gets its own cache folder here (unless the caller
chose one), so the suite passes under every setting, in any order.
"""

from __future__ import annotations

import getpass
import os
import tempfile

import pytest
import torch

if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}", f"orkit-{torch.backends.cpu.get_cpu_capability()}"
    )


@pytest.fixture
def one_thread():
    """One intra-op thread for the test: tiny networks on a shared 2-core machine run fastest,
    and reproducibly, that way."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def setting_1():
    """(train, validation, test, problem) of DeepStock setting 1, seed 0."""
    from orkit.core import InventoryProblem
    from orkit.data import generate

    data = generate("deepstock-1", seed=0)
    return (*data.splits(), InventoryProblem(**data.metadata["problem"]))


@pytest.fixture
def compiler():
    """A compiler without earlier graphs; yields ``graphs(fn)``, the graphs compiled for ``fn``
    (a function of orkit.sim.simulator); fails the test if a compiled run fell back to eager."""
    from torch._dynamo.eval_frame import _debug_get_cache_entry_list

    from orkit.sim import simulator

    simulator.reset_compiled()
    yield lambda fn: len(_debug_get_cache_entry_list(fn.__code__))
    assert not simulator._FAILED, f"a compiled run fell back to eager: {simulator._FAILED}"
    simulator.reset_compiled()

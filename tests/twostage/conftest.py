"""Shared settings for the two-stage tests."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_openmp_thread():
    """One OpenMP thread for the gradient-boosted forecaster while tests run.

    The test machines have 2 cores shared by parallel test workers; libgomp's spinning threads
    then stall each other (a 0.5 s fit can take 10 s). Results do not depend on thread count.
    """
    with threadpool_limits(limits=1, user_api="openmp"):
        yield

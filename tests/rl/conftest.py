"""The RL tests run on one intra-op thread (``one_thread``); ``setting_1`` is shared by every test."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield

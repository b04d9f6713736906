"""The Observation contract and the fitted-state check."""

from __future__ import annotations

import pytest
import torch

from orkit.core import NotFittedError, Observation, check_is_fitted


def test_observation_views_are_lazy_and_named():
    calls = []

    def features():
        calls.append(1)
        return torch.tensor([[1.0, 2.0], [3.0, 4.0]])

    obs = Observation(period=4, on_hand=torch.zeros(2), inventory_position=torch.ones(2),
                      feature_names=("price", "promo"), features=features)
    assert calls == []
    assert obs.feature("promo").tolist() == [2.0, 4.0]
    assert obs.features.shape == (2, 2) and calls == [1]  # computed once
    with pytest.raises(KeyError, match="feature 'size' is not in the observation"):
        obs.feature("size")
    assert obs.pipeline.shape == (2, 0) and obs.recent_demand.shape == (2, 0)


def test_check_is_fitted_names_the_missing_state():
    class Policy:
        level_ = None

    with pytest.raises(NotFittedError, match="Policy is not fitted yet \\(missing level_\\)"):
        check_is_fitted(Policy(), ("level_",))

"""Every study that ships with orkit is valid: it loads, names registered methods, and every
fixed or searched hyper-parameter is a real parameter of its method."""

from __future__ import annotations

import dataclasses

import pytest

from orkit.experiments import registry
from orkit.experiments.config import load_study, shipped_studies


@pytest.mark.parametrize("name", sorted(shipped_studies()))
def test_shipped_study_is_valid(name):
    config = load_study(name, known_methods=set(registry.POLICIES))
    for method in config.methods:
        factory = registry.resolve(method.name)
        keys = set(method.params) | set(method.search)
        config_class = getattr(factory, "config_class", None)
        if config_class is not None:  # the RL learners: config fields, plus the regularization
            allowed = {f.name for f in dataclasses.fields(config_class)} | {"regularization"}
            assert keys <= allowed, (method.label, sorted(keys - allowed))
        else:
            registry.make_policy(method.name, **method.params)


def test_deepstock_synthetic_covers_the_papers_protocol():
    config = load_study("deepstock-synthetic", known_methods=set(registry.POLICIES))
    assert (config.tuning.trials, config.tuning.startup_trials, config.tuning.top_k) == (50, 10, 5)
    assert len(config.seeds) == 5
    names = {d.name for d in config.datasets}
    assert {"setting-1", "setting-2", "setting-3"} <= names
    assert sum(n.startswith("setting-4-") for n in names) == 15  # N in {5, 10, 20} x H in {2, ..., 64}
    cells = {(m.name, m.params.get("regularization")) for m in config.methods if m.tuned}
    assert cells == {(learner, reg) for learner in ("ds", "ppo", "ddpg") for reg in ("none", "base")}

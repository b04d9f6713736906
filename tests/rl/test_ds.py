"""DS: tiny-budget smoke tests per regularization, determinism, early stopping, the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.evaluation import evaluate
from orkit.experiments.registry import make_policy
from orkit.rl import DSConfig, DSPolicy, NeuralPolicy, train_ds
from orkit.sim import simulate

TINY = dict(max_epochs=2, hidden_sizes=(16, 16), batch_size=5)


@pytest.mark.parametrize("regularization", ["none", "base", "coeff", "both"])
def test_smoke_every_regularization(setting_1, regularization):
    train, validation, test, problem = setting_1
    policy = DSPolicy(regularization, **TINY).fit(train, validation, problem)
    assert [h["epoch"] for h in policy.history_] == [0, 1, 2]
    assert [h["seconds"] for h in policy.history_] == sorted(h["seconds"] for h in policy.history_)
    assert all(math.isfinite(h["validation_loss"]) for h in policy.history_)
    assert all(math.isfinite(h["train_loss"]) for h in policy.history_[1:])
    assert policy.best_validation_loss_ == min(h["validation_loss"] for h in policy.history_)
    ledger = simulate(policy, test, problem)
    assert 0.0 <= float(ledger.order.min()) and float(ledger.order.max()) <= problem.max_order
    assert math.isfinite(evaluate(policy, test, problem)["weighted_loss"])
    assert policy.policy_.regularization == regularization


def test_training_lowers_the_loss_and_restores_the_best_weights(setting_1):
    train, validation, _, problem = setting_1
    result = train_ds(train, validation, problem, "base", DSConfig(max_epochs=15, batch_size=5, hidden_sizes=(32, 32)))
    losses = [h["validation_loss"] for h in result.history]
    assert min(losses) < losses[0]
    # the returned network is the best one, not the last one
    assert evaluate(result.policy, validation, problem)["weighted_loss"] == pytest.approx(min(losses), rel=1e-6)


def test_early_stopping_after_patience_epochs_without_improvement(setting_1):
    train, validation, _, problem = setting_1
    # a zero learning rate never improves: stop after `patience` epochs
    policy = DSPolicy("base", learning_rate=1e-12, early_stopping_patience=3, max_epochs=50,
                      hidden_sizes=(8,)).fit(train, validation, problem)
    assert len(policy.history_) == 1 + 3


def test_same_seed_same_numbers(setting_1):
    train, validation, _, problem = setting_1
    a = DSPolicy("both", seed=3, **TINY).fit(train, validation, problem)
    b = DSPolicy("both", seed=3, **TINY).fit(train, validation, problem)
    c = DSPolicy("both", seed=4, **TINY).fit(train, validation, problem)
    assert [h["validation_loss"] for h in a.history_] == [h["validation_loss"] for h in b.history_]
    sa, sb, sc = (p.policy_.network.state_dict() for p in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_the_global_random_state_is_untouched(setting_1):
    train, validation, _, problem = setting_1
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    DSPolicy("base", **TINY).fit(train, validation, problem)
    assert torch.equal(torch.rand(3), expected)


def test_per_sku_timing_and_lost_sales_work_for_ds(setting_1):
    train, validation, test, _ = setting_1
    problem = InventoryProblem(lead_time=np.arange(train.n_skus) % 3, review_period=1 + np.arange(train.n_skus) % 2,
                               lost_sales=True, max_order=100.0)
    policy = DSPolicy("base", **TINY).fit(train, train, problem)
    assert math.isfinite(evaluate(policy, train, problem)["weighted_loss"])


def test_registry_hyperparameters_reach_the_learners_config(setting_1):
    """What the contract test (tests/test_policy_contract.py) does not check: hyper-parameters
    given to the registry are the learner's configuration after fit."""
    train, validation, _, problem = setting_1
    policy = make_policy("ds", regularization="coeff", max_epochs=1, hidden_sizes=[8])
    assert policy.regularization == "coeff" and policy.hyperparameters == {"max_epochs": 1, "hidden_sizes": [8]}
    policy.fit(train, validation, problem)
    assert isinstance(policy.policy_, NeuralPolicy) and policy.config_.hidden_sizes == (8,)


@pytest.mark.parametrize("params, message", [
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(learning_rate=-1.0), "learning_rate must be > 0"),
    (dict(plateau_factor=1.0), "plateau_factor must be < 1"),
    (dict(hidden_sizes=(0,)), "hidden_sizes must be a sequence of integers >= 1"),
    (dict(activation="gelu"), "activation must be one of"),
    (dict(input_scale="log"), "input_scale must be one of"),
    (dict(momentum=0.9), "DSConfig has no hyper-parameter 'momentum'"),
])
def test_bad_hyperparameters_are_named(setting_1, params, message):
    train, validation, _, problem = setting_1
    with pytest.raises(ValidationError, match=message):
        DSPolicy("base", **params).fit(train, validation, problem)


def _poisoned_from(epoch: int, first_epoch: int = 1, batches_per_epoch: int = 1):
    """A stand-in for DS's training loss that is NaN from training epoch ``epoch`` on.

    Whether a run really overflows depends on the CPU's kernels (a diverging configuration
    overflowed here and early-stopped at a finite loss on an AVX-512 EPYC), so the test forces
    the non-finite loss instead of provoking it. Validation is scored by ``evaluate`` and stays
    finite."""
    from orkit.evaluation import per_sku_loss

    calls = [0]

    def loss(ledger):
        current = first_epoch + calls[0] // batches_per_epoch
        calls[0] += 1
        value = per_sku_loss(ledger)
        return value * float("nan") if current >= epoch else value

    return loss


def test_a_diverged_run_stops_and_keeps_its_best_weights(setting_1, caplog, tmp_path, monkeypatch):
    """Once every minibatch's loss is non-finite no step can change the weights: DS stops
    (instead of repeating the failure until early stopping) and says why, once."""
    import orkit.rl.ds as ds_module

    train, validation, _, problem = setting_1
    config = dict(batch_size=train.n_skus, max_epochs=50, seed=0)  # one minibatch per epoch
    monkeypatch.setattr(ds_module, "per_sku_loss", _poisoned_from(3))
    with caplog.at_level("WARNING", logger="orkit.rl.ds"):
        policy = DSPolicy("none", **config).fit(train, validation, problem)
    history = policy.history_
    assert [h["epoch"] for h in history] == [0, 1, 2, 3]  # it stopped at the first such epoch
    assert history[-1]["train_loss"] is None
    assert all(math.isfinite(h["train_loss"]) for h in history[1:-1])
    # no step at epoch 3: the weights, hence the validation loss, are those of epoch 2
    assert history[-1]["validation_loss"] == history[-2]["validation_loss"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("can no longer change: stopping" in m for m in messages) == 1
    best = min(h["validation_loss"] for h in history)
    assert policy.best_validation_loss_ == best
    assert evaluate(policy, validation, problem)["weighted_loss"] == pytest.approx(best)

    # a resumed run stops where the uninterrupted one did
    monkeypatch.setattr(ds_module, "per_sku_loss", _poisoned_from(3))
    seen: list = []
    DSPolicy("none", checkpoint_dir=tmp_path, callback=lambda entry: seen.append(entry) or len(seen) < 2,
             **config).fit(train, validation, problem)
    monkeypatch.setattr(ds_module, "per_sku_loss", _poisoned_from(3, first_epoch=3))
    resumed = DSPolicy("none", checkpoint_dir=tmp_path, resume=True, **config).fit(train, validation, problem)
    assert seen[-1]["epoch"] == 2 and resumed.history_[-1]["epoch"] == history[-1]["epoch"]

    def numbers(entries):  # repr: NaN equals NaN
        return [repr({k: v for k, v in h.items() if k != "seconds"}) for h in entries]

    assert numbers(resumed.history_) == numbers(history)


def test_a_partly_non_finite_epoch_skips_those_minibatches(setting_1, caplog, monkeypatch):
    """Minibatches with a non-finite loss are skipped (one warning for the epoch); training goes on."""
    import orkit.rl.ds as ds_module
    from orkit.evaluation import per_sku_loss

    train, validation, _, problem = setting_1
    calls = [0]

    def every_other_nan(ledger):
        calls[0] += 1
        value = per_sku_loss(ledger)
        return value * float("nan") if calls[0] % 2 == 0 else value

    monkeypatch.setattr(ds_module, "per_sku_loss", every_other_nan)
    with caplog.at_level("WARNING", logger="orkit.rl.ds"):
        policy = DSPolicy("none", batch_size=(train.n_skus + 1) // 2, max_epochs=3, seed=0).fit(
            train, validation, problem)
    assert [h["epoch"] for h in policy.history_] == [0, 1, 2, 3]
    assert all(math.isfinite(h["train_loss"]) for h in policy.history_[1:])
    skipped = [r.getMessage() for r in caplog.records if "non-finite training loss" in r.getMessage()]
    assert len(skipped) == 3 and all(m.startswith("DS: 1 of 2 minibatches") for m in skipped)

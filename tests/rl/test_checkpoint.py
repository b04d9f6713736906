"""Checkpoints: policies saved without pickle load back exactly; interrupted training resumes exactly."""

from __future__ import annotations

import json

import pytest
import torch

from orkit.core import ValidationError
from orkit.rl import DDPGPolicy, DSPolicy, NeuralPolicy, PPOPolicy, load_policy, save_policy
from orkit.sim import simulate

LEARNERS = {
    "ds": (DSPolicy, dict(max_epochs=6, early_stopping_patience=100, batch_size=5, hidden_sizes=(16, 16))),
    "ppo": (PPOPolicy, dict(total_timesteps=6 * 140, num_steps=140, batch_size=70, update_epochs=2,
                            hidden_sizes=(16, 16))),
    "ddpg": (DDPGPolicy, dict(total_timesteps=6 * 56, num_envs=4, learning_starts=56, batch_size=32, eval_every=56,
                              hidden_sizes=(16, 16), exploration_noise=0.1)),
}


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("use_safetensors", [True, False])
@pytest.mark.parametrize("regularization", ["base", "both"])
def test_saved_policy_loads_with_identical_orders(setting_1, tmp_path, regularization, use_safetensors):
    train, validation, test, problem = setting_1
    fitted = DSPolicy(regularization, max_epochs=1, hidden_sizes=(8,)).fit(train, validation, problem)
    path = save_policy(fitted, tmp_path / "p", metadata={"note": "test"}, use_safetensors=use_safetensors)
    files = sorted(p.name for p in path.iterdir())
    assert files == ["policy.json", "weights.safetensors" if use_safetensors else "weights.pt"]
    document = json.loads((path / "policy.json").read_text())
    assert document["network"]["head"]["name"] == regularization and document["metadata"] == {"note": "test"}
    loaded = load_policy(path)
    assert isinstance(loaded, NeuralPolicy)
    torch.testing.assert_close(simulate(loaded, test, problem).order, simulate(fitted, test, problem).order,
                               rtol=0, atol=0)


def test_weights_pt_is_read_without_unpickling_objects(setting_1, tmp_path, monkeypatch):
    train, validation, _, problem = setting_1
    fitted = DSPolicy("base", max_epochs=0, hidden_sizes=(8,)).fit(train, validation, problem)
    save_policy(fitted, tmp_path, use_safetensors=False)
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    load_policy(tmp_path)
    assert calls and all(k.get("weights_only") is True for k in calls)


def test_estimator_save_records_learner_and_config(setting_1, tmp_path):
    train, validation, _, problem = setting_1
    fitted = DSPolicy("none", max_epochs=0, hidden_sizes=(8,)).fit(train, validation, problem)
    loaded = NeuralPolicy.load(fitted.save(tmp_path / "ds"))
    assert loaded.metadata["learner"] == "ds" and loaded.metadata["config"]["hidden_sizes"] == [8]


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ValidationError, match="policy.json"):
        load_policy(tmp_path)
    (tmp_path / "policy.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValidationError, match="format must be"):
        load_policy(tmp_path)


def _numbers(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.mark.parametrize("learner", list(LEARNERS))
def test_interrupted_training_resumes_to_the_same_result(setting_1, tmp_path, learner):
    train, validation, _, problem = setting_1
    cls, params = LEARNERS[learner]
    uninterrupted = cls("base", **params).fit(train, validation, problem)

    def interrupt(entry):
        if len(seen) == 2:
            raise Interrupt
        seen.append(entry)

    seen: list = []
    with pytest.raises(Interrupt):
        cls("base", checkpoint_dir=tmp_path, callback=interrupt, **params).fit(train, validation, problem)
    assert (tmp_path / "training_state.pt").is_file()
    resumed = cls("base", checkpoint_dir=tmp_path, resume=True, **params).fit(train, validation, problem)

    assert _numbers(resumed.history_) == _numbers(uninterrupted.history_)
    a, b = uninterrupted.policy_.network.state_dict(), resumed.policy_.network.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "policy" / "policy.json").is_file()


def test_resuming_under_another_configuration_is_refused(setting_1, tmp_path):
    train, validation, _, problem = setting_1
    DSPolicy("base", max_epochs=1, hidden_sizes=(8,), checkpoint_dir=tmp_path).fit(train, validation, problem)
    with pytest.raises(ValidationError, match="differs in config"):
        DSPolicy("base", max_epochs=1, hidden_sizes=(8,), learning_rate=0.5, checkpoint_dir=tmp_path,
                 resume=True).fit(train, validation, problem)


def test_one_hot_encoding_survives_save_and_load(setting_1, tmp_path):
    """The categorical levels are part of the saved network: a loaded policy encodes the
    period index exactly as the trained one (same orders on the test data)."""
    from orkit.rl import NeuralPolicy, NetworkConfig, build_network, make_head

    train, _, test, problem = setting_1
    net = build_network(train, problem, make_head("base"), NetworkConfig(seed=3))
    with torch.no_grad():  # make the one-hot columns matter
        net.body[0].weight[:, -16:].normal_(generator=torch.Generator().manual_seed(0))
    policy = NeuralPolicy(net)
    loaded = NeuralPolicy.load(policy.save(tmp_path / "p"))
    assert loaded.network.encoder.categorical_levels == net.encoder.categorical_levels
    a = simulate(policy, test, problem).order
    torch.testing.assert_close(simulate(loaded, test, problem).order, a)
    assert a.std() > 0


RL_LEARNERS = ["ppo", "ddpg"]


def test_steps_since_improvement_counts_from_the_first_best():
    from orkit.rl._training import stalled, steps_since_improvement

    history = [{"timesteps": 0, "validation_loss": 3.0}, {"timesteps": 10, "validation_loss": 2.0},
               {"timesteps": 20}, {"timesteps": 30, "validation_loss": 2.0}, {"timesteps": 45, "validation_loss": 2.5}]
    assert steps_since_improvement(history) == 35  # the tie at 30 is not an improvement
    assert stalled(history, 35) and not stalled(history, 36) and not stalled(history, None)


@pytest.mark.parametrize("learner", RL_LEARNERS)
def test_early_stopping_ends_a_stalled_run_and_keeps_the_best(setting_1, learner):
    """With early_stopping_steps, training ends at the first evaluation that is that many steps
    past the best validation loss; the returned weights are the best ones, identical to those
    of a full-budget run up to that point (the same run, cut short)."""
    train, validation, _, problem = setting_1
    cls, params = LEARNERS[learner]
    params = dict(params, total_timesteps=params["total_timesteps"] * 3, learning_rate=0.05)
    full = cls("base", **params).fit(train, validation, problem)
    losses = [(h["timesteps"], h["validation_loss"]) for h in full.history_ if "validation_loss" in h]
    best_at = min(losses, key=lambda x: x[1])[0]
    patience = next(t for t, _ in losses if t > best_at) - best_at  # one evaluation without improvement
    # stop at the first stall of `patience` steps in the full run's curve
    best, at, stop = float("inf"), 0, None
    for t, loss in losses:
        if loss < best:
            best, at = loss, t
        elif t - at >= patience:
            stop = t
            break
    assert stop is not None and stop < losses[-1][0]
    early = cls("base", early_stopping_steps=patience, **params).fit(train, validation, problem)
    assert early.history_[-1]["timesteps"] == stop
    assert _numbers(early.history_) == _numbers(full.history_)[:len(early.history_)]
    assert early.best_validation_loss_ == min(loss for t, loss in losses if t <= stop)


@pytest.mark.parametrize("learner", RL_LEARNERS)
def test_a_resumed_early_stopped_run_stays_stopped(setting_1, tmp_path, learner):
    train, validation, _, problem = setting_1
    cls, params = LEARNERS[learner]
    params = dict(params, total_timesteps=params["total_timesteps"] * 3, learning_rate=0.05, early_stopping_steps=1)
    first = cls("base", checkpoint_dir=tmp_path, **params).fit(train, validation, problem)
    assert first.history_[-1]["timesteps"] < params["total_timesteps"]
    again = cls("base", checkpoint_dir=tmp_path, resume=True, **params).fit(train, validation, problem)
    assert _numbers(again.history_) == _numbers(first.history_)


@pytest.mark.parametrize("learner", RL_LEARNERS)
def test_early_stopping_steps_must_be_positive(setting_1, learner):
    train, validation, _, problem = setting_1
    cls, params = LEARNERS[learner]
    with pytest.raises(ValidationError, match="early_stopping_steps"):
        cls("base", early_stopping_steps=0, **params).fit(train, validation, problem)


@pytest.mark.parametrize("learner", list(LEARNERS))
def test_progress_bar_over_the_budget(setting_1, capsys, learner):
    """``progress=True`` draws a bar over the budget (epochs or RL steps) with the validation
    losses, leaves the numbers unchanged and still passes every entry to the user's callback."""
    train, validation, _, problem = setting_1
    cls, params = LEARNERS[learner]
    quiet = cls("base", **params).fit(train, validation, problem)
    capsys.readouterr()
    seen: list = []
    shown = cls("base", progress=True, callback=seen.append, **params).fit(train, validation, problem)
    err = capsys.readouterr().err
    field, key = cls.budget
    budget = getattr(shown.config_, field)
    done = min(int(quiet.history_[-1][key]), budget)
    assert f"{learner.upper()} base" in err and f"{done}/{budget}" in err
    assert f"best={quiet.best_validation_loss_:.4f}" in err
    assert _numbers(shown.history_) == _numbers(quiet.history_)
    assert len(seen) == len(quiet.history_) - 1  # every entry after the initial evaluation


def test_progress_bar_keeps_the_callbacks_stop(setting_1):
    train, validation, _, problem = setting_1
    cls, params = LEARNERS["ds"]
    stopped = cls("base", progress=True, callback=lambda entry: False, **params).fit(train, validation, problem)
    assert len(stopped.history_) == 2  # the initial evaluation and the one epoch the callback stopped

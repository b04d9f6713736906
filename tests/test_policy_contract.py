"""The policy contract (docs/architecture.md): every registered policy through the same checks.

Parametrized over the registry (``POLICIES``), and for the RL learners over every
regularization head, so a family added to the registry is checked here without a new test:

- the constructor stores its arguments only: every ``__init__`` parameter is an attribute of
  the same name holding the value given (or the default), and nothing is learned yet;
- ``act`` before ``fit`` raises :class:`~orkit.core.NotFittedError`;
- ``fit(train, validation, problem)`` returns the policy, leaves its parameters as they were,
  and everything it learns is a public attribute ending in ``_``;
- ``act`` returns a tensor of shape (n_skus,) of orders >= 0 on the observation's device and
  in its dtype (float32 and float64; CUDA when there is a GPU);
- the same parameters and seed give the same orders: a clone of the fitted policy is unfitted,
  has the same parameters and, fitted again, orders exactly the same;
- ``evaluate`` gives a finite loss;
- ``get_params``, ``set_params``, ``clone`` and the repr follow scikit-learn's rules.

Budgets are the tiny ones of ``testkit.SMALL``.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from sklearn.base import clone

from orkit.core import FittablePolicy, InventoryProblem, NotFittedError, Observation, Policy, ValidationError
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.experiments.registry import POLICIES, make_policy, resolve
from testkit import LOST_SALES_ONLY, SMALL, review_day_observation

LEARNERS = ("ds", "ppo", "ddpg")
HEADS = ("none", "base", "coeff", "both")
#: policies the contract test fits on integer demand (myopic it fits on setting 1)
ON_POISSON = LOST_SALES_ONLY - {"myopic"}

#: the second parameter of policies whose two parameters are given together
PAIRED = {"capped-base-stock": {"cap": 2.0}, "s-S": {"order_up_to_level": 5.0}, "r-Q": {"quantity": 2.0}}

#: case id -> (registered name, parameters)
CASES = {
    **{name: (name, SMALL.get(name, {})) for name in POLICIES if name not in LEARNERS},
    **{f"{name}[{head}]": (name, dict(regularization=head, **SMALL[name])) for name in LEARNERS for head in HEADS},
}

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_learner_is_registered():
    assert set(LEARNERS) <= set(POLICIES)


@pytest.fixture(scope="module")
def poisson():
    data = generate("iid-poisson", n_skus=40, n_periods=30, rate=4.0, seed=0, split_sizes=(20, 10, 10))
    return (*data.splits(), InventoryProblem(lead_time=1, review_period=1, lost_sales=True))


def _learned(policy) -> list[str]:
    return sorted(k for k in vars(policy) if k.endswith("_") and not k.startswith("_"))


def _same(a, b) -> bool:
    if a is b:
        return True
    if isinstance(a, (np.ndarray, torch.Tensor)) or isinstance(b, (np.ndarray, torch.Tensor)):
        return type(a) is type(b) and np.array_equal(np.asarray(a), np.asarray(b))
    return type(a) is type(b) and a == b


def _assert_orders(orders, obs: Observation) -> None:
    assert isinstance(orders, torch.Tensor)
    assert orders.shape == (obs.n_skus,)
    assert orders.dtype == obs.inventory_position.dtype and orders.device == obs.inventory_position.device
    assert torch.isfinite(orders).all() and (orders >= 0).all()


# ------------------------------------------------------------------------------ the contract
@pytest.mark.parametrize("case", list(CASES))
def test_every_registered_policy_follows_the_policy_contract(case, setting_1, poisson):
    name, params = CASES[case]
    train, validation, test, problem = poisson if name in ON_POISSON else setting_1
    policy = make_policy(name, **params)
    assert isinstance(policy, Policy) and isinstance(policy, FittablePolicy)

    # the constructor stores its arguments only
    signature = inspect.signature(type(policy).__init__).parameters.values()
    named = {p.name: p for p in signature if p.name != "self" and p.kind is not p.VAR_KEYWORD}
    for parameter in named.values():
        stored = getattr(policy, parameter.name)
        if parameter.name in params:
            assert stored is params[parameter.name], parameter.name
        else:
            assert stored is parameter.default or stored == parameter.default, parameter.name
    extra = {k: v for k, v in params.items() if k not in named}  # **hyperparameters of the RL learners
    assert all(_same(policy.get_params()[k], v) for k, v in extra.items()), extra
    assert _learned(policy) == []

    obs = review_day_observation(test, problem)
    with pytest.raises(NotFittedError):
        policy.act(obs)

    before = dict(vars(policy))
    parameters = policy.get_params(deep=False)
    assert policy.fit(train, validation, problem) is policy
    after = policy.get_params(deep=False)
    assert after.keys() == parameters.keys()
    assert all(_same(after[k], parameters[k]) for k in parameters), "fit changed a parameter"
    new = [k for k in vars(policy) if k not in before and not k.startswith("_")]
    assert new and all(k.endswith("_") for k in new), f"{case} learned {new}"
    assert repr(policy).startswith(f"{type(policy).__name__}(")

    orders = policy.act(obs)
    _assert_orders(orders, obs)
    obs64 = review_day_observation(test, problem, dtype=torch.float64)
    _assert_orders(policy.act(obs64), obs64)
    if torch.cuda.is_available():
        on_gpu = review_day_observation(test, problem, device="cuda")
        _assert_orders(policy.act(on_gpu), on_gpu)

    # a clone is unfitted with the same parameters; fitted again, it orders the same
    twin = clone(policy)
    assert type(twin) is type(policy) and twin is not policy and repr(twin) == repr(policy)
    assert _learned(twin) == []
    with pytest.raises(NotFittedError):
        twin.act(obs)
    assert torch.equal(twin.fit(train, validation, problem).act(obs), orders)

    loss = evaluate(policy, test, problem)["weighted_loss"]
    assert np.isfinite(loss) and loss > 0


# ------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize("name", list(POLICIES))
def test_every_registered_policy_has_scikit_learn_parameters(name):
    policy = make_policy(name)
    assert resolve(name).policy_name == name
    names = [p.name for p in inspect.signature(type(policy).__init__).parameters.values()
             if p.name != "self" and p.kind is not p.VAR_KEYWORD]
    params = policy.get_params(deep=False)
    assert set(names) <= set(params)
    assert repr(policy) == f"{type(policy).__name__}()"
    twin = clone(policy)
    assert type(twin) is type(policy) and twin is not policy and repr(twin) == repr(policy)
    assert twin.get_params(deep=False).keys() == params.keys()
    with pytest.raises(ValidationError, match=f"{type(policy).__name__} has no parameter 'no_such_parameter'"):
        policy.set_params(no_such_parameter=1)
    if names:
        # set_params changes what get_params, repr and clone see
        first = names[0]
        value = {"regularization": "none", "demand_pmf": [0.5, 0.5], "distribution": "poisson"}.get(first, 3)
        policy.set_params(**{first: value}, **PAIRED.get(name, {}))
        assert policy.get_params(deep=False)[first] == value
        assert f"{first}=" in repr(policy)
        assert clone(policy).get_params(deep=False)[first] == value

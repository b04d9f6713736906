"""The policy network: per-SKU normalisation (by hand), initial orders, the Policy interface."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from orkit.core import InventoryProblem, Observation, Policy, ValidationError
from orkit.data import Dataset
from orkit.rl import NetworkConfig, NeuralPolicy, build_network, make_head
from orkit.sim import simulate


@pytest.fixture()
def tiny():
    """Two SKUs whose demand differs by a factor 10, one quantity feature and one other feature."""
    demand = np.array([[4.0, 6.0, 5.0, 5.0, 4.0, 6.0], [40.0, 60.0, 50.0, 50.0, 40.0, 60.0]])
    features = np.stack([demand / 2, np.tile(np.arange(6.0), (2, 1))], axis=2)
    data = Dataset(demand, features, ["half_demand", "weekday"], feature_roles={"half_demand": "quantity"})
    return data, InventoryProblem(lead_time=2, review_period=1, max_order=1000.0)


def observation(on_hand, pipeline, recent, features, period=3):
    on_hand = torch.tensor(on_hand)
    pipeline = torch.tensor(pipeline)
    return Observation(period=period, on_hand=on_hand, inventory_position=on_hand + pipeline.sum(1),
                       pipeline=pipeline, recent_demand=torch.tensor(recent), features=torch.tensor(features),
                       feature_names=("half_demand", "weekday"))


def test_recent_scale_and_inputs_by_hand(tiny):
    data, problem = tiny
    net = build_network(data, problem, make_head("base"), NetworkConfig(scale_prior_periods=2.0))
    g = float(data.demand.mean())  # 27.5
    assert float(net.encoder.global_scale) == pytest.approx(g)
    # period 3 with a window of 4: the first column is padding, 3 periods observed
    obs = observation([5.0, 50.0], [[1.0, 2.0], [10.0, 20.0]], [[0, 4, 6, 5], [0, 40, 60, 50]],
                      [[2.5, 3.0], [25.0, 3.0]])
    enc = net.encoder(obs)
    s = torch.tensor([(15 + 2 * g) / 5, (150 + 2 * g) / 5])
    torch.testing.assert_close(enc.scale, s)
    period_mean, period_std = 2.5, np.arange(6.0).std()
    expected = torch.stack([
        torch.tensor([5.0, 50.0]) / s, torch.tensor([1.0, 10.0]) / s, torch.tensor([2.0, 20.0]) / s,
        torch.tensor([8.0, 80.0]) / s, torch.log(s / g),
        torch.tensor([2.5, 25.0]) / s, torch.full((2,), (3.0 - period_mean) / period_std),
    ], 1)
    torch.testing.assert_close(enc.inputs, expected)
    torch.testing.assert_close(enc.inventory_position, torch.tensor([8.0, 80.0]))
    assert enc.time.tolist() == [0.5, 0.5]  # t / T with T = 6


def test_a_ten_times_larger_sku_sees_the_same_state_up_to_its_log_size(tiny):
    data, problem = tiny
    net = build_network(data, problem, make_head("base"), NetworkConfig(scale_prior_periods=0.0))
    obs = observation([5.0, 50.0], [[1.0, 2.0], [10.0, 20.0]], [[0, 4, 6, 5], [0, 40, 60, 50]],
                      [[2.5, 3.0], [25.0, 3.0]])
    x = net.encoder(obs).inputs
    log_column = 4
    keep = [j for j in range(x.shape[1]) if j != log_column]
    torch.testing.assert_close(x[0, keep], x[1, keep])
    assert float(x[1, log_column] - x[0, log_column]) == pytest.approx(math.log(10.0))


def test_a_sku_launched_inside_the_window_is_scaled_over_its_lived_periods_only(tiny):
    """At period 3 a SKU launched at period 2 has lived one period of the window, not three: its
    scale is (d + k g) / (1 + k), as for the same SKU at period 1 of its own data; a SKU launched
    today has the prior g (also with k = 0: no division by zero)."""
    data, problem = tiny
    net = build_network(data, problem, make_head("base"), NetworkConfig(scale_prior_periods=2.0))
    g = float(net.encoder.global_scale)
    args = ([5.0, 50.0], [[1.0, 2.0], [10.0, 20.0]], [[0, 0, 0, 6], [0, 40, 60, 50]], [[2.5, 3.0], [25.0, 3.0]])
    young = observation(*args)
    young.first_period = torch.tensor([2, 0])
    torch.testing.assert_close(net.encoder(young).scale, torch.tensor([(6 + 2 * g) / 3, (150 + 2 * g) / 5]))
    own = observation(*args, period=1)  # SKU 0 as data of its own, launched at its period 0
    torch.testing.assert_close(net.encoder(young).scale[0], net.encoder(own).scale[0])
    bare = build_network(data, problem, make_head("base"), NetworkConfig(scale_prior_periods=0.0))
    young.first_period = torch.tensor([3, 0])
    torch.testing.assert_close(bare.encoder(young).scale, torch.tensor([g, 50.0]))


def test_the_simulator_shows_each_sku_its_first_period():
    seen = []

    class Spy:
        def act(self, obs):
            seen.append(obs.first_period.tolist())
            return torch.zeros(obs.n_skus)

    first, last = np.array([0, 3, 1]), np.array([7, 7, 5])
    t = np.arange(8)
    data = Dataset(((t >= first[:, None]) & (t <= last[:, None])).astype(float), life=(first, last))
    simulate(Spy(), data, InventoryProblem())
    assert seen and all(first == [0, 3, 1] for first in seen)
    simulate(Spy(), Dataset(np.ones((2, 4))), InventoryProblem())
    assert seen[-1] == [0, 0]


@pytest.mark.parametrize("scale, prior", [("global", 7.0), ("none", 7.0), ("recent", 0.0)])
def test_other_scales(tiny, scale, prior):
    data, problem = tiny
    net = build_network(data, problem, make_head("none"), NetworkConfig(input_scale=scale, scale_prior_periods=prior))
    obs = observation([5.0, 50.0], [[1.0, 2.0], [10.0, 20.0]], [[0, 4, 6, 5], [0, 40, 60, 50]],
                      [[2.5, 3.0], [25.0, 3.0]])
    expected = {"global": [27.5, 27.5], "none": [1.0, 1.0], "recent": [5.0, 50.0]}[scale]
    torch.testing.assert_close(net.encoder(obs).scale, torch.tensor(expected))


@pytest.mark.parametrize("regularization", ["none", "base", "coeff", "both"])
def test_first_orders_are_initial_action_bias_times_range(setting_1, regularization):
    train, _, test, problem = setting_1
    config = NetworkConfig(initial_action_bias=0.3, input_scale="global")
    net = build_network(train, problem, make_head(regularization), config)
    g = float(net.encoder.global_scale)
    assert net.action_range == pytest.approx(problem.max_order / g)
    ledger = simulate(NeuralPolicy(net), test, problem)
    first = ledger.order[:, 2]  # the first review day, empty pipeline and stock
    if regularization == "none":
        torch.testing.assert_close(first, torch.full_like(first, 30.0), rtol=0.02, atol=0.0)
    elif regularization == "base":  # order up to 30 from the backlog of days 0 and 1
        torch.testing.assert_close(first, 30.0 - ledger.on_hand[:, 1], rtol=0.02, atol=0.0)
    else:  # equal coefficients on features of about one demand scale: about 30 as well
        assert 0.3 * 30 < float(first.mean()) < 3 * 30


def test_neural_policy_is_a_policy_and_respects_the_order_bounds(setting_1):
    train, _, test, problem = setting_1
    net = build_network(train, problem, make_head("none"), NetworkConfig(initial_action_bias=2.0))  # 200 > max 100
    policy = NeuralPolicy(net)
    assert isinstance(policy, Policy)
    ledger = simulate(policy, test, problem)
    assert float(ledger.order.max()) == 100.0 and float(ledger.order.min()) == 0.0
    # float64 data: the float32 network serves it, orders come back in float64
    led64 = simulate(policy, torch.as_tensor(test.demand, dtype=torch.float64), problem,
                     features=torch.as_tensor(test.features, dtype=torch.float64), feature_names=test.feature_names)
    assert led64.order.dtype == torch.float64
    torch.testing.assert_close(led64.order.float(), ledger.order)


def test_missing_feature_is_a_clear_error(setting_1):
    train, _, test, problem = setting_1
    with pytest.raises(ValidationError, match="feature 'price' is not in the training data"):
        build_network(train, problem, make_head("base"), NetworkConfig(features=("price",)))
    net = build_network(train, problem, make_head("base"), NetworkConfig())
    with pytest.raises(ValidationError, match=r"the policy needs feature '\w+'; the observation has \[\]"):
        simulate(NeuralPolicy(net), test.demand, problem)  # plain demand: no features


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_device_follows_the_data(setting_1):
    train, _, test, problem = setting_1
    policy = NeuralPolicy(build_network(train, problem, make_head("base"), NetworkConfig()))
    cpu = simulate(policy, test, problem).order
    gpu = simulate(policy, test, problem, device="cuda").order
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-5, atol=1e-4)


# ----------------------------------------------------------------- categorical (one-hot) features
def test_setting_1_period_index_is_one_hot(setting_1):
    """DeepStock setting 1 declares its period index categorical: the network sees one column
    per training value of t // P (0..15), exactly one of them 1, and a value never seen in
    training as all zeros."""
    train, _, test, problem = setting_1
    assert train.feature_roles["period_index"].role == "categorical"
    net = build_network(train, problem, make_head("base"), NetworkConfig())
    enc = net.encoder
    assert enc.categorical_levels == {"period_index": [float(v) for v in range(16)]}
    assert enc.n_inputs == 3 + 1 + 4 + 16  # on-hand, pipeline (L = 1), position, log size; 4 numeric; 16 one-hot
    j = train.feature_names.index("period_index")
    feats = torch.tensor(test.features[:, 9, :], dtype=torch.float32)  # a copy: the fixture is shared
    obs = Observation(period=9, on_hand=torch.zeros(test.n_skus), inventory_position=torch.zeros(test.n_skus),
                      pipeline=torch.zeros(test.n_skus, 1), features=feats, feature_names=test.feature_names,
                      recent_demand=torch.zeros(test.n_skus, 28))
    one_hot = enc(obs).inputs[:, -16:]
    assert torch.equal(one_hot.sum(1), torch.ones(test.n_skus))
    assert torch.all(one_hot[:, int(feats[0, j])] == 1)  # t = 9: t // P = 4
    feats[:, j] = 99.0  # a period the training data never had
    assert torch.equal(enc(obs).inputs[:, -16:], torch.zeros(test.n_skus, 16))


def test_categorical_features_can_be_switched_off_or_named(setting_1, tiny):
    train, _, _, problem = setting_1
    plain = build_network(train, problem, make_head("base"), NetworkConfig(categorical_features=()))
    assert plain.encoder.categorical_features == () and plain.encoder.n_inputs == 3 + 1 + 5
    data, tiny_problem = tiny
    named = build_network(data, tiny_problem, make_head("base"), NetworkConfig(categorical_features=("weekday",)))
    assert named.encoder.categorical_levels == {"weekday": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]}
    with pytest.raises(ValidationError, match="categorical feature 'price' is not among the network's features"):
        build_network(data, tiny_problem, make_head("base"), NetworkConfig(categorical_features=("price",)))


def test_roles_choose_the_encoding_calendar_parts_one_hot_over_all_their_values():
    """The encoder reads the dataset's feature roles: a calendar weekday is one-hot over its
    seven values even when training saw three weekdays, declared categories are one-hot over
    the declared values, a quantity is divided by the demand scale, a numeric feature
    standardised."""
    demand = np.tile([4.0, 6.0, 5.0], (2, 1))
    data = Dataset(demand, np.stack([demand, np.tile([1.0, 2.0, 1.0], (2, 1)), np.tile([9.0, 7.0, 8.0], (2, 1))], axis=2),
                   ["ma", "store", "price"], start_date="2024-01-01", freq="D",
                   feature_roles={"ma": "quantity", "store": "categorical:1,2,3"}).with_calendar_features()
    encoder = build_network(data, InventoryProblem(), make_head("base"), NetworkConfig()).encoder
    assert encoder.categorical_levels == {"store": [1.0, 2.0, 3.0], "weekday": [float(d) for d in range(7)]}
    assert encoder.quantity_features == ("ma",) and encoder.input_features == ("ma", "price")
    assert encoder.n_inputs == 3 + 1 + 2 + 3 + 7  # on-hand, pipeline (L = 1), position, log size; ma, price; one-hot


# ----------------------------------------------------------------- which features the network sees
def test_primary_features_are_the_papers_one_feature(setting_1, tiny):
    """``features="primary"`` is the dataset's ``metadata["primary_features"]``: for setting 1
    the period index alone (paper.md section 5: "one scalar feature", x_t = t // P), one-hot;
    ``"all"`` is every column, as ``None``; a list names columns, even one called "all"."""
    train, _, _, problem = setting_1
    primary = build_network(train, problem, make_head("base"), NetworkConfig(features="primary"))
    assert primary.encoder.input_features == () and primary.encoder.categorical_features == ("period_index",)
    assert primary.encoder.n_inputs == 3 + 1 + 16  # on-hand, pipeline, position, log size; 16 one-hot
    every = build_network(train, problem, make_head("base"), NetworkConfig(features="all"))
    default = build_network(train, problem, make_head("base"), NetworkConfig())
    assert every.encoder.config() == default.encoder.config() and every.encoder.n_inputs == 3 + 1 + 4 + 16
    data, tiny_problem = tiny
    with pytest.raises(ValidationError, match="features='primary' needs a dataset whose metadata names its "
                                              "'primary_features'.*\\['half_demand', 'weekday'\\]"):
        build_network(data, tiny_problem, make_head("base"), NetworkConfig(features="primary"))
    with pytest.raises(ValidationError, match="feature 'all' is not in the training data"):
        build_network(data, tiny_problem, make_head("base"), NetworkConfig(features=["all"]))
    with pytest.raises(ValidationError, match=r"feature 'primay' is not in the training data; it has "
                                              r"\['half_demand', 'weekday'\] \(or one of the keywords \['all', 'primary'\]\)"):
        build_network(data, tiny_problem, make_head("base"), NetworkConfig(features="primay"))
    one = build_network(data, tiny_problem, make_head("base"), NetworkConfig(features="weekday"))
    assert one.encoder.input_features == ("weekday",)


def test_literal_inputs_feed_the_period_index_as_one_raw_number(setting_1):
    """LITERAL_INPUTS: the paper's (I_t, x_t) with x_t = t // P a plain column, no per-SKU scale."""
    from orkit.rl import LITERAL_INPUTS

    train, _, test, problem = setting_1
    net = build_network(train, problem, make_head("base"), NetworkConfig(**LITERAL_INPUTS))
    enc = net.encoder
    assert enc.input_features == ("period_index",) and enc.categorical_features == () and enc.input_scale == "none"
    assert enc.n_inputs == 3 + 1 + 1  # on-hand, pipeline, position; log size; the period index
    feats = torch.tensor(test.features[:, 9, :], dtype=torch.float32)  # a copy: the fixture is shared
    obs = Observation(period=9, on_hand=torch.full((test.n_skus,), 7.0), inventory_position=torch.full((test.n_skus,), 7.0),
                      pipeline=torch.zeros(test.n_skus, 1), features=feats, feature_names=test.feature_names,
                      recent_demand=torch.zeros(test.n_skus, 28))
    inputs = enc(obs).inputs
    assert torch.all(inputs[:, 0] == 7.0) and torch.all(inputs[:, -1] == 4.0)  # raw units; t // P = 4, raw
    with pytest.raises(TypeError):
        LITERAL_INPUTS["input_scale"] = "recent"  # a shared preset cannot be changed by accident


@pytest.mark.parametrize("generator, primary", [("deepstock-2", "demand_lag1"), ("deepstock-4", "sigma")])
def test_primary_features_of_the_other_settings(generator, primary):
    """Settings 2-3 give the network d_{t-1}, setting 4 sigma_i (paper.md section 5), standardised."""
    from orkit.data import generate

    data = generate(generator, seed=0, n_train=3, n_validation=2, n_test=2)
    train, _, _ = data.splits()
    problem = InventoryProblem(**data.metadata["problem"])
    net = build_network(train, problem, make_head("base"), NetworkConfig(features="primary"))
    assert net.encoder.input_features == (primary,) and net.encoder.categorical_features == ()


@pytest.mark.parametrize("bad", [3, ("weekday", 2), {"weekday": 1}])
def test_features_of_the_wrong_type_are_a_clear_error(bad):
    with pytest.raises(ValidationError, match="features must be None, 'all' or 'primary', or a sequence of feature names"):
        NetworkConfig(features=bad).check()

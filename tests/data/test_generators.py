"""Tests for orkit.data.generators: the DeepStock settings, IID and contextual demand, the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orkit.core.errors import ValidationError
from orkit.data import (
    COEFF_FEATURES,
    CONTEXTUAL_FEATURES,
    GENERATORS,
    Dataset,
    contextual,
    deepstock_setting,
    generate,
    iid_normal,
    iid_poisson,
)


def split_sizes(ds: Dataset) -> tuple[int, int, int]:
    return tuple(int(np.sum(ds.split == label)) for label in ("train", "validation", "test"))


def trailing_mean_oracle(demand: np.ndarray, window: int) -> np.ndarray:
    """The authors' definition: rolling(window, min_periods=1).mean().shift(1), 0 without history."""
    frame = pd.DataFrame(demand.T.astype(np.float64))
    return frame.rolling(window, min_periods=1).mean().shift(1).fillna(0.0).to_numpy().T


# ---------------------------------------------------------------------------------- registry
def test_registry_names():
    assert set(GENERATORS) == {
        "deepstock-1", "deepstock-2", "deepstock-3", "deepstock-4", "iid-normal", "iid-poisson", "contextual",
    }


def test_unknown_generator_lists_the_known_ones():
    with pytest.raises(ValidationError, match=r"name must be one of 'deepstock-1', .*'contextual', got 'deepstock-9'"):
        generate("deepstock-9")


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValidationError, match=r"generator 'iid-normal' has no parameter 'means'; it accepts n_skus, n_periods, mean"):
        generate("iid-normal", n_skus=2, n_periods=3, means=1.0)
    with pytest.raises(ValidationError, match=r"generator 'iid-poisson' needs parameter\(s\) 'rate'"):
        generate("iid-poisson", n_skus=2, n_periods=3)
    with pytest.raises(ValidationError, match=r"generator 'deepstock-1' has no parameter 'setting'"):
        generate("deepstock-1", setting=2)
    with pytest.raises(ValidationError, match=r"n_skus must be >= 1, got 0"):
        generate("contextual", n_skus=0, n_periods=10)
    with pytest.raises(ValidationError, match=r"std must be finite and >= 0, got -1 at sku index 1"):
        iid_normal(2, 3, std=[1.0, -1.0])
    with pytest.raises(ValidationError, match=r"setting must be one of 1, 2, 3, 4, got 5"):
        deepstock_setting(5)
    with pytest.raises(ValidationError, match=r"sigma_range applies to settings 2, 3 and 4 only"):
        deepstock_setting(1, sigma_range=(1, 2))
    with pytest.raises(ValidationError, match=r"sigma_range must have low <= high, got \(8, 2\)"):
        deepstock_setting(2, sigma_range=(8, 2))
    with pytest.raises(ValidationError, match=r"reuse_train_sigma applies to setting 4 only"):
        deepstock_setting(2, reuse_train_sigma=True)
    with pytest.raises(ValidationError, match=r"split_sizes must sum to the number of SKUs \(10\)"):
        contextual(10, 14, split_sizes=(5, 5, 5))


def test_generate_passes_parameters_through():
    ds = generate("deepstock-4", n_train=5, horizon_cycles=2, seed=3)
    assert ds.equals(deepstock_setting(4, n_train=5, horizon_cycles=2, seed=3))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_and_different_seed_different_data(name):
    params = {} if name.startswith("deepstock") else {"n_skus": 30, "n_periods": 40}
    if name == "iid-poisson":
        params["rate"] = 4.0
    first = generate(name, seed=11, **params)
    assert first.equals(generate(name, seed=11, **params))
    other = generate(name, seed=12, **params)
    assert not np.array_equal(first.demand, other.demand)
    assert not np.array_equal(first.features, other.features)
    assert first.metadata["generator"] == name
    assert first.metadata["parameters"]["seed"] == 11
    assert first.features_with_role("quantity", "forecast") == COEFF_FEATURES
    assert first.features_with_role("forecast") == COEFF_FEATURES[2:]
    assert first.feature_names[-4:] == COEFF_FEATURES
    assert first.feature_names[: len(first.metadata["primary_features"])] == tuple(first.metadata["primary_features"])
    assert (first.demand >= 0).all()


def test_generated_datasets_round_trip_through_files(tmp_path):
    for ds in (deepstock_setting(1), deepstock_setting(4, horizon_cycles=2), contextual(5, 10)):
        assert Dataset.read(ds.write(tmp_path / f"{ds.name}.parquet")).equals(ds)
        assert Dataset.read(ds.write(tmp_path / f"{ds.name}.csv")).equals(ds)


# ---------------------------------------------------------------------------------- DeepStock setting 1
def test_setting_1_structure():
    ds = deepstock_setting(1, seed=5)
    assert ds.n_periods == 31
    assert split_sizes(ds) == (10, 10, 100)
    assert ds.metadata["problem"]["lead_time"] == 1 and ds.metadata["problem"]["review_period"] == 2
    low = np.asarray(ds.metadata["low"])
    assert low.shape == (31,) and low.dtype.kind == "i" and (low >= 0).all() and (low <= 100).all()
    demand = ds.demand
    assert np.array_equal(demand, np.round(demand))
    # LOW is shared by every trajectory of every split: d_t in [LOW[t], LOW[t] + 4], all five values seen
    assert (demand >= low).all() and (demand <= low + 4).all()
    np.testing.assert_array_equal(demand.min(axis=0), low)
    np.testing.assert_array_equal(demand.max(axis=0), low + 4)
    for part in ds.splits():
        assert (part.demand >= low).all() and (part.demand <= low + 4).all()
    np.testing.assert_array_equal(ds.feature("period_index"), np.broadcast_to(np.arange(31) // 2, (120, 31)))
    assert ds.metadata["primary_features"] == ["period_index"]


def test_setting_1_low_is_normal_10_4_truncated():
    lows = np.concatenate([deepstock_setting(1, seed=s, n_test=0).metadata["low"] for s in range(40)])
    assert abs(lows.mean() - 9.6) < 0.5  # E[int(N(10, 4))] ~ 9.5-9.6 (truncation toward zero)
    assert 3.5 < lows.std() < 4.5


def test_setting_1_low_does_not_depend_on_split_sizes():
    small = deepstock_setting(1, seed=2, n_train=3, n_test=7)
    assert small.n_skus == 13
    assert small.metadata["low"] == deepstock_setting(1, seed=2).metadata["low"]


def test_coeff_features_follow_their_definitions_setting_1():
    ds = deepstock_setting(1, seed=0)
    np.testing.assert_allclose(ds.feature("demand_mean_past_7"), trailing_mean_oracle(ds.demand, 7), rtol=1e-6)
    np.testing.assert_allclose(ds.feature("demand_mean_past_28"), trailing_mean_oracle(ds.demand, 28), rtol=1e-6)
    assert (ds.feature("demand_mean_past_7")[:, 0] == 0).all()
    low = np.asarray(ds.metadata["low"], dtype=float)
    true_next_7 = np.array([np.mean(low[t : t + 7] + 2) for t in range(31)])
    error = ds.feature("forecast_mean_next_7") - true_next_7
    assert abs(error.mean()) < 0.15 and 2.8 < error.std() < 3.2  # N(0, 3) noise
    true_next_28 = np.array([np.mean(low[t : t + 28] + 2) for t in range(31)])
    assert 2.8 < (ds.feature("forecast_mean_next_28") - true_next_28).std() < 3.2
    assert (ds.features[:, :, 3:] >= 0).all()


# ---------------------------------------------------------------------------------- DeepStock settings 2 and 3
@pytest.mark.parametrize("setting, sizes", [(2, (10, 10, 100)), (3, (5, 5, 100))])
def test_ar1_settings_structure(setting, sizes):
    ds = deepstock_setting(setting, seed=1)
    assert ds.n_periods == 31 and split_sizes(ds) == sizes
    attributes = ds.attributes
    assert attributes.columns.tolist() == ["phi", "mu", "sigma"]
    assert attributes["phi"].between(0.3, 0.9).all()
    assert attributes["mu"].between(5, 10).all()
    assert attributes["sigma"].between(2, 8).all()
    lag = ds.feature("demand_lag1")
    np.testing.assert_array_equal(lag[:, 1:], ds.demand[:, :-1])  # x_t = d_{t-1}
    assert (lag[:, 0] >= 0).all() and not np.array_equal(lag[:, 0], ds.demand[:, 0])  # last burn-in day


def test_ar1_recursion_matches_an_independent_oracle():
    """Recompute the training trajectories from the documented random streams, one SKU at a time."""
    ds = deepstock_setting(2, seed=7)
    train_rng = np.random.default_rng(7).spawn(4)[1]
    n, burn_in, horizon = 10, 8, 31
    phi = train_rng.uniform(0.3, 0.9, n)
    mu = train_rng.uniform(5, 10, n)
    sigma = train_rng.uniform(2, 8, n)
    noise = train_rng.standard_normal((n, burn_in + horizon))
    for i in range(n):
        d, path = mu[i], []
        for day in range(burn_in + horizon):
            d = max(0.0, phi[i] * d + (1 - phi[i]) * mu[i] + sigma[i] * noise[i, day])
            path.append(d)
        np.testing.assert_allclose(ds.demand[i], path[burn_in:], rtol=1e-6)
        assert ds.feature("demand_lag1")[i, 0] == np.float32(path[burn_in - 1])
    np.testing.assert_allclose(ds.attributes[["phi", "mu", "sigma"]].to_numpy()[:n], np.c_[phi, mu, sigma])


def test_ar1_one_step_conditional_mean_holds_statistically():
    """E[d_t | d_{t-1}] = E[max(0, phi d_{t-1} + (1 - phi) mu + N(0, sigma^2))] with the stored phi, mu, sigma."""
    from statistics import NormalDist

    ds = deepstock_setting(2, seed=3, n_test=400)
    phi, mu, sigma = (ds.attributes[c].to_numpy()[:, None] for c in ("phi", "mu", "sigma"))
    previous = ds.feature("demand_lag1").astype(float)
    location = phi * previous + (1 - phi) * mu
    ratio = location / sigma
    cdf = np.vectorize(NormalDist().cdf)(ratio)
    pdf = np.exp(-0.5 * ratio**2) / np.sqrt(2 * np.pi)
    expected = location * cdf + sigma * pdf
    standardized = (ds.demand - expected) / sigma
    assert abs(standardized.mean()) < 0.03
    # with phi shuffled across SKUs the relation breaks
    wrong = np.roll(phi, 7, axis=0) * previous + (1 - np.roll(phi, 7, axis=0)) * mu
    assert np.mean((ds.demand - wrong) ** 2) > np.mean((ds.demand - location) ** 2)


def test_ar1_coeff_features_use_the_conditional_mean_path():
    ds = deepstock_setting(3, seed=0, forecast_noise_std=0.0)
    phi, mu = (ds.attributes[c].to_numpy()[:, None] for c in ("phi", "mu"))
    lag = ds.feature("demand_lag1").astype(float)
    t = 10
    path = mu + phi ** np.arange(1, 8) * (lag[:, [t]] - mu)
    np.testing.assert_allclose(ds.feature("forecast_mean_next_7")[:, t], np.maximum(path.mean(axis=1), 0), rtol=1e-5)
    past = trailing_mean_oracle(ds.demand, 7)
    np.testing.assert_allclose(ds.feature("demand_mean_past_7")[:, 7:], past[:, 7:], rtol=1e-5)
    assert (ds.feature("demand_mean_past_7")[:, 0] > 0).any()  # burn-in history is used at t = 0


# ---------------------------------------------------------------------------------- DeepStock setting 4
@pytest.mark.parametrize("cycles", [2, 8, 16, 32, 64])
def test_setting_4_horizon_and_demand_days(cycles):
    ds = deepstock_setting(4, horizon_cycles=cycles, n_train=5, seed=0)
    assert ds.n_periods == 1 + 2 + 2 * cycles
    assert split_sizes(ds) == (5, 5, 100)
    day = np.arange(ds.n_periods)
    demand_days = (day >= 3) & ((day - 1) % 2 == 0)
    assert demand_days.sum() == cycles
    assert (ds.demand[:, ~demand_days] == 0).all()
    assert (ds.demand[:, demand_days] > 0).all()
    assert ds.metadata["demand_days"] == np.flatnonzero(demand_days).tolist()


def test_setting_4_sigma_feature_attributes_and_distribution():
    ds = deepstock_setting(4, horizon_cycles=64, n_train=20, seed=4)
    sigma = ds.attributes["demand_std"].to_numpy()
    assert ((sigma >= 5) & (sigma <= 20)).all()
    np.testing.assert_array_equal(ds.feature("sigma"), np.broadcast_to(sigma.astype(np.float32)[:, None], ds.demand.shape))
    np.testing.assert_allclose(ds.attributes["optimal_base_stock"], 100 + 1.2816 * sigma, atol=1e-3 * 20)
    days = np.asarray(ds.metadata["demand_days"])
    z = (ds.demand[:, days] - 100) / sigma[:, None]
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    assert ds.metadata["primary_features"] == ["sigma"]


def test_setting_4_test_set_does_not_depend_on_n_train():
    small = deepstock_setting(4, n_train=5, seed=9, horizon_cycles=4)
    large = deepstock_setting(4, n_train=20, seed=9, horizon_cycles=4)
    np.testing.assert_array_equal(small.splits()[2].demand, large.splits()[2].demand)
    np.testing.assert_array_equal(small.splits()[2].features, large.splits()[2].features)


def test_setting_4_reuse_train_sigma_as_in_the_authors_code():
    ds = deepstock_setting(4, n_train=5, n_test=500, reuse_train_sigma=True, horizon_cycles=2)
    train, validation, test = ds.splits()
    sigma = train.attributes["demand_std"].to_numpy()
    np.testing.assert_array_equal(validation.attributes["demand_std"].to_numpy(), sigma)
    np.testing.assert_array_equal(test.attributes["demand_std"].to_numpy(), np.repeat(sigma, 100))


# ---------------------------------------------------------------------------------- IID
def test_iid_normal_per_sku_parameters_and_censoring():
    ds = iid_normal(3, 4000, mean=[10.0, 50.0, 0.5], std=[2.0, 5.0, 1.0], seed=0, split_sizes=(1, 1, 1))
    assert split_sizes(ds) == (1, 1, 1)
    assert (ds.demand >= 0).all()
    np.testing.assert_allclose(ds.demand[:2].mean(axis=1), [10, 50], rtol=0.02)
    np.testing.assert_allclose(ds.demand[:2].std(axis=1), [2, 5], rtol=0.05)
    assert (ds.demand[2] == 0).mean() > 0.25  # P(N(0.5, 1) < 0) = 0.31
    assert ds.attributes["demand_mean"].tolist() == [10.0, 50.0, 0.5]
    assert iid_normal(2, 3).split is None


def test_iid_poisson():
    ds = iid_poisson(2, 5000, rate=[0.5, 20.0], seed=1)
    assert np.array_equal(ds.demand, np.round(ds.demand))
    np.testing.assert_allclose(ds.demand.mean(axis=1), [0.5, 20], rtol=0.05)
    np.testing.assert_allclose(ds.demand.var(axis=1), [0.5, 20], rtol=0.1)
    assert ds.metadata["parameters"]["rate"] == [0.5, 20.0]


# ---------------------------------------------------------------------------------- contextual
def test_contextual_structure():
    ds = contextual(200, 70, seed=0)
    assert ds.feature_names == (*CONTEXTUAL_FEATURES, *COEFF_FEATURES)
    assert split_sizes(ds) == (120, 40, 40)
    assert np.array_equal(ds.demand, np.round(ds.demand))
    scale = ds.attributes["base_level"].to_numpy()
    assert scale.max() / scale.min() > 50  # fast and slow movers coexist
    promotion = ds.feature("promotion").astype(bool)
    assert 0.03 < promotion.mean() < 0.3
    lift = 1 + 4 * ds.feature("promotion_depth")[promotion]
    assert lift.min() >= 1.5 - 1e-5 and lift.max() <= 3.0 + 1e-5
    assert (ds.feature("promotion_depth")[~promotion] == 0).all()
    price = ds.feature("price")
    assert (price[promotion] < np.broadcast_to(ds.attributes["base_price"].to_numpy()[:, None], price.shape)[promotion]).all()
    # promotions lift demand relative to the same SKU's non-promotion days
    relative = ds.demand / scale[:, None]
    assert relative[promotion].mean() > 1.4 * relative[~promotion].mean()


def test_contextual_negative_binomial_is_overdispersed():
    poisson = contextual(100, 60, seed=0, promotion_probability=0.0, seasonality_amplitude_range=(0, 0), trend_range=(0, 0))
    negative_binomial = contextual(
        100, 60, seed=0, promotion_probability=0.0, seasonality_amplitude_range=(0, 0), trend_range=(0, 0), dispersion=2.0
    )
    def dispersion_ratio(ds):
        return np.median(ds.demand.var(axis=1) / ds.demand.mean(axis=1))
    assert 0.8 < dispersion_ratio(poisson) < 1.2
    assert dispersion_ratio(negative_binomial) > 2.0


def test_contextual_features_carry_real_signal():
    """A regressor on the context features beats the per-SKU mean on held-out periods by a wide margin."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import r2_score

    ds = contextual(200, 140, seed=0).select_features(CONTEXTUAL_FEATURES)
    cut = 98
    x, y = ds.features, ds.demand
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=60, random_state=0)
    model.fit(x[:, :cut].reshape(-1, ds.n_features), y[:, :cut].ravel())
    prediction = model.predict(x[:, cut:].reshape(-1, ds.n_features))
    held_out = y[:, cut:].ravel()
    per_sku_mean = np.repeat(y[:, :cut].mean(axis=1), ds.n_periods - cut)
    model_error = np.mean((prediction - held_out) ** 2)
    baseline_error = np.mean((per_sku_mean - held_out) ** 2)
    assert r2_score(held_out, prediction) > 0.8
    assert 1 - model_error / baseline_error > 0.5  # R^2 relative to the per-SKU mean

"""The vector env: Gymnasium's rules for vector envs, the single-SKU env's dynamics, the core's costs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from orkit.core import InventoryProblem, ValidationError
from orkit.heuristics import BaseStockPolicy
from orkit.sim import simulate
from orkit.sim.gym_env import InventoryEnv
from orkit.sim.gym_vector import InventoryVectorEnv


def make(lead_time=1, review_period=2, lost=False, num_envs=3, n_periods=12, seed=0):
    rng = np.random.default_rng(seed)
    demand = rng.poisson(5, size=(5, n_periods)).astype(float)
    features = rng.normal(size=(5, n_periods, 2))
    problem = InventoryProblem(lead_time=lead_time, review_period=review_period, lost_sales=lost)
    return demand, features, problem, InventoryVectorEnv(demand, problem, num_envs=num_envs, features=features)


def test_spaces_and_metadata_follow_the_vector_api():
    _, _, _, envs = make()
    assert envs.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    assert envs.observation_space == batch_space(envs.single_observation_space, 3)
    assert envs.action_space == batch_space(envs.single_action_space, 3)
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs) and isinstance(info, dict)
    for _ in range(30):  # through two autoresets
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        assert reward.shape == terminated.shape == truncated.shape == (3,)
        assert reward.dtype == np.float64 and terminated.dtype == truncated.dtype == np.bool_


def test_reset_and_step_are_deterministic_given_the_seed():
    _, _, _, a = make()
    _, _, _, b = make()
    obs_a, info_a = a.reset(seed=123)
    obs_b, info_b = b.reset(seed=123)
    assert data_equivalence(obs_a, obs_b) and data_equivalence(info_a, info_b)
    actions = np.random.default_rng(0).uniform(0, 20, size=(40, 3, 1))
    for act in actions:
        assert data_equivalence(a.step(act), b.step(act))
    paths = {tuple(a.reset(seed=s)[1]["path"]) for s in range(20)}
    assert len(paths) > 1  # the seed matters


def test_returned_data_is_not_reused():
    _, _, _, envs = make()
    obs1, _ = envs.reset(seed=0)
    obs2, *_ = envs.step(np.full((3, 1), 5.0))
    assert obs1 is not obs2 and not np.shares_memory(obs1, obs2)


@pytest.mark.parametrize("lead_time, review_period, lost", [(0, 1, False), (1, 2, False), (3, 1, True), (2, 3, True)])
def test_same_dynamics_as_sync_vector_env_of_the_single_sku_env(lead_time, review_period, lost):
    demand, features, problem, envs = make(lead_time, review_period, lost)
    sync = gym.vector.SyncVectorEnv([lambda: InventoryEnv(demand, problem, features=features) for _ in range(3)])
    paths = [0, 3, 4]
    obs, _ = envs.reset(seed=1, options={"paths": paths})
    expected = np.stack([env.reset(options={"path": p})[0] for env, p in zip(sync.envs, paths)])
    np.testing.assert_allclose(obs, expected)
    rng = np.random.default_rng(2)
    for _ in range(demand.shape[1]):
        actions = rng.uniform(0, 20, size=(3, 1))
        obs, reward, terminated, truncated, info = envs.step(actions)
        single = [env.step(a) for env, a in zip(sync.envs, actions)]
        np.testing.assert_allclose(obs, np.stack([s[0] for s in single]))
        np.testing.assert_allclose(reward, [s[1] for s in single])
        assert truncated.tolist() == [s[3] for s in single] and not terminated.any()
        np.testing.assert_allclose(info["order"], [s[4]["order"] for s in single])
    assert truncated.all()


@pytest.mark.parametrize("lost", [False, True])
def test_rewards_equal_minus_the_batched_core_costs(lost):
    rng = np.random.default_rng(5)
    demand = rng.poisson(6, size=(4, 25)).astype(float)
    problem = InventoryProblem(lead_time=1, review_period=2, lost_sales=lost)
    ledger = simulate(BaseStockPolicy(20.0), torch.tensor(demand), problem)
    envs = InventoryVectorEnv(demand, problem, num_envs=4)
    obs, _ = envs.reset(options={"paths": [0, 1, 2, 3]})
    rewards, orders = [], []
    for _ in range(demand.shape[1]):
        position = obs[:, 1 + problem.lead_time]
        obs, reward, _, _, info = envs.step(np.maximum(20.0 - position, 0.0)[:, None])
        rewards.append(reward)
        orders.append(info["order"])
    np.testing.assert_allclose(np.stack(orders, 1), ledger.order.numpy())
    counted = ledger.counted.numpy()
    np.testing.assert_allclose(-np.stack(rewards, 1)[counted], ledger.cost.numpy()[counted], rtol=1e-12)


def test_next_step_autoreset_and_partial_reset():
    _, _, _, envs = make(n_periods=4, num_envs=2)
    envs.reset(seed=0, options={"paths": [1, 2]})
    for _ in range(4):
        obs, reward, terminated, truncated, _ = envs.step(np.full((2, 1), 3.0))
    assert truncated.all()
    obs, reward, terminated, truncated, info = envs.step(np.full((2, 1), 3.0))  # the reset step
    assert reward.tolist() == [0.0, 0.0] and not truncated.any() and not terminated.any()
    assert obs[:, -3].tolist() == [0.0, 0.0]  # period / T of a fresh episode
    envs.step(np.full((2, 1), 3.0))
    obs, info = envs.reset(options={"reset_mask": [False, True], "paths": [4]})
    assert obs[0, -3] == 0.25 and obs[1, -3] == 0.0 and info["path"][1] == 4


def test_works_with_gymnasium_vector_wrappers():
    _, _, _, envs = make(n_periods=6, num_envs=4)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    envs.reset(seed=0)
    for _ in range(6):
        *_, info = envs.step(np.full((4, 1), 4.0))
    assert info["_episode"].all() and info["episode"]["l"].tolist() == [6, 6, 6, 6]


def test_errors_name_the_parameter():
    with pytest.raises(ValidationError, match="one lead_time"):
        InventoryVectorEnv(np.ones((2, 5)), InventoryProblem(lead_time=[1, 2]), num_envs=2)
    with pytest.raises(ValidationError, match="num_envs must be an integer >= 1"):
        InventoryVectorEnv(np.ones((2, 5)), InventoryProblem(), num_envs=0)
    with pytest.raises(ValidationError, match="features must have shape"):
        InventoryVectorEnv(np.ones((2, 5)), InventoryProblem(), num_envs=1, features=np.ones((2, 4, 1)))
    envs = InventoryVectorEnv(np.ones((2, 5)), InventoryProblem(), num_envs=2)
    with pytest.raises(ValidationError, match="paths must hold 2 indices"):
        envs.reset(options={"paths": [0, 7]})

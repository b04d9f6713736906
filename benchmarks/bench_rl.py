"""Wall-clock, CPU seconds and test loss of DS, PPO and DDPG (Base) on DeepStock setting 1 (or 2, 3).

For each learner: the seconds until its final (best) validation loss was reached, the total
training seconds, the RL steps or epochs used, and the test loss of the selected policy. With
stable-baselines3 installed, SB3 PPO and DDPG are trained side by side on the Gymnasium adapter
(``InventoryEnv`` wrapped so that one step is one review period, as in orkit.rl, the action is an
order-up-to level turned into an order as the Base head does, and rescaled to [-1, 1] as SB3
advises; observations normalised by ``VecNormalize``) with the same hyper-parameters, budget and
best-checkpoint selection on validation, and scored by the same simulator. Base stock and the
empirical DP are printed as references, with a base-stock level per period fitted through
the differentiable simulator (what a Base network can represent from the period index alone);
on settings 2 and 3 (``--setting``), base stock and the paper's benchmark there, DS Base trained
on the test set itself (an in-sample bound). The learners see the setting's one feature x_t
(``features="primary"``: setting 1's period index, one-hot; settings 2-3's d_{t-1}); DDPG all
features.

With PPO in the speed comparison, the script also prints PPO's update floor: the seconds that
the network passes of its updates alone (matrix products and activations, no optimizer, loss or
simulation) take for the budget on this machine, and for each seed how much of that floor lies
before the step at which orkit reached SB3's best, against the 10x target's seconds.

Usage::

    python benchmarks/bench_rl.py                 # the full run (several minutes on one CPU core)
    python benchmarks/bench_rl.py --quick         # a small budget, to check the script
    python benchmarks/bench_rl.py --no-sb3 --seed 1
    python benchmarks/bench_rl.py --no-sb3 --speed-seeds 3          # CPU seconds per fit, seeds 0-2 (docs/benchmarks.md)
    python benchmarks/bench_rl.py --no-sb3 --setting 2 --learners ddpg --speed-seeds 3   # AR(1) demand
    python benchmarks/bench_rl.py --threads 2 --learners ppo --speed-seeds 3   # the ratio over seeds 0-2
    python benchmarks/bench_rl.py --results       # the docs/results/deepstock-setting-1.md table:
                                                  # DS, PPO, DDPG x None, Base x seeds 0, 1, 2
    python benchmarks/bench_rl.py --results --literal-inputs   # the same with the paper's literal inputs
    python benchmarks/bench_rl.py --results --learners ppo --inputs period --set ppo.initial_action_std=0.5
                                                  # any configuration field of any learner
"""

from __future__ import annotations

import argparse
import ast
import copy
import math
import platform
import time

import gymnasium as gym
import numpy as np
import torch

from orkit.core import InventoryProblem, ValidationError
from orkit.data import generate
from orkit.evaluation import evaluate
from orkit.rl import LITERAL_INPUTS, DDPGPolicy, DSPolicy, PPOPolicy
from orkit.rl.networks import mlp
from orkit.rl.ddpg import DDPGConfig
from orkit.rl.ds import DSConfig
from orkit.rl.ppo import PPOConfig
from orkit.rl.gym_policy import gym_observation
from orkit.sim import is_review_day
from orkit.sim.gym_env import InventoryEnv

# Hyper-parameters inside the paper's search spaces (paper.md section 4).
#
# The network's inputs are a hyper-parameter with two values: setting 1's one feature x_t, the
# period index t // P (paper.md section 5; one-hot, the dataset declares it categorical), or the
# period index plus the four demand features of the dataset (trailing means, noisy forward
# means). ``--results`` runs both for every (learner, regularization) cell and keeps the one
# with the better mean validation loss over the seeds; the Base choices are the defaults here.
FEATURE_SETS = {"period index": dict(features="primary"), "period index + demand features": dict(features=None)}
# ``--results --literal-inputs``: orkit.rl.LITERAL_INPUTS, the paper's formulas taken literally (the period index as
# one raw number, raw units)
LITERAL_INPUT_SETS = {"period index as one raw number, raw units": LITERAL_INPUTS}
DS = dict(batch_size=5, learning_rate=3e-3, initial_action_bias=0.4, hidden_sizes=(64, 64), plateau_factor=0.9,
          input_scale="global", standardize_features=False, features="primary")
PPO = dict(learning_rate=1e-3, clip_coef=0.2, batch_size=256, num_steps=2048, update_epochs=10, ent_coef=1e-4,
           gamma=0.99, gae_lambda=0.95, initial_action_bias=0.4, input_scale="global", standardize_features=False,
           features="primary")
# DDPG: Gaussian exploration noise of 0.1 (the paper's shipped configurations use none; without it
# DDPG Base stalls for long stretches on setting 1). Step size and noise chosen on the mean
# validation loss of DDPG Base over seeds 0-2 among (3e-4, 0.1), (1e-3, 0.1) and (1e-3, 0.2):
# 1.152, 1.042 and 1.051.
DDPG = dict(learning_rate=1e-3, tau=5e-3, batch_size=256, buffer_size=50_000, train_freq=1, learning_starts=500,
            gamma=0.99, initial_action_bias=0.4, input_scale="global", standardize_features=False, num_envs=4,
            exploration_noise=0.1, features=None)
# Settings 2-3 (AR(1) demand): DDPG sees the setting's one feature x_t = d_{t-1} only (the
# paper's input); with the four demand features as well its validation and test losses are
# higher on every seed measured (docs/benchmarks.md, "DDPG on AR(1) demand").
SETTING_DDPG = {2: dict(features="primary"), 3: dict(features="primary")}


class ReviewPeriodSteps(gym.Wrapper):
    """One step = one review period of ``InventoryEnv`` (days without a useful order pass with 0).

    The reward of a step is the sum of the daily rewards until the next useful review day, so an
    episode's return equals the single-SKU env's (minus the counted cost)."""

    def __init__(self, env: InventoryEnv) -> None:
        super().__init__(env)
        self.L, self.P, self.T = env.unwrapped.L, env.unwrapped.P, env.unwrapped.T

    def _useful_review_day(self, t: int) -> bool:
        return bool(is_review_day(t, self.P)) and t + self.L < self.T

    def _advance(self, obs, total, info):
        while self.env.unwrapped.period < self.T and not self._useful_review_day(self.env.unwrapped.period):
            obs, reward, _, _, info = self.env.step(np.zeros(1))
            total += reward
        return obs, total, self.env.unwrapped.period >= self.T, info

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        obs, _, _, info = self._advance(obs, 0.0, info)
        return obs, info

    def step(self, action):
        obs, reward, _, _, info = self.env.step(action)
        obs, total, done, info = self._advance(obs, reward, info)
        return obs, total, False, done, info


class BaseAction(gym.ActionWrapper):
    """The Base regularization as an action wrapper: the action is an order-up-to level [0, max
    order] and the env receives max(level - inventory position, 0)."""

    def action(self, level):
        env = self.env.unwrapped
        return np.clip(np.asarray(level, dtype=np.float64) - env.inventory_position, 0.0, env.max_order)


class SB3Policy:
    """A trained SB3 model as an orkit policy (actions in [-1, 1], Base or None)."""

    def __init__(self, model, vec_normalize, base, problem, horizon):
        self.model, self.vec_normalize, self.base, self.problem, self.horizon = model, vec_normalize, base, problem, horizon

    def act(self, obs):
        x = self.vec_normalize.normalize_obs(gym_observation(obs, lead_time=self.problem.lead_time, horizon=self.horizon))
        action, _ = self.model.predict(x, deterministic=True)
        value = (np.clip(action.reshape(-1), -1.0, 1.0) + 1.0) / 2.0 * self.problem.max_order
        if self.base:
            value = value - obs.inventory_position.cpu().numpy()
        return torch.as_tensor(np.clip(value, 0.0, self.problem.max_order), dtype=obs.on_hand.dtype)


def time_to_best(history):
    best = min(history, key=lambda h: h.get("validation_loss", math.inf))
    return best["seconds"], best["validation_loss"]


def time_to_reach(history, loss, key="seconds"):
    """Seconds (or another entry, e.g. ``"timesteps"``) until the validation loss first reached
    ``loss`` (None: never)."""
    for h in history:
        if h.get("validation_loss", math.inf) <= loss:
            return h[key]
    return None


def ppo_update_floor(data, repeats: int = 300) -> tuple[float, int]:
    """Seconds that the network passes of PPO's updates alone take for the whole budget on this
    machine, and the networks' input width.

    The passes are the matrix products and activations of one forward and one backward pass
    (autograd, no loss) of the actor and the critic per minibatch (``update_epochs *
    total_timesteps / batch_size`` minibatches) plus one forward pass of both per collected
    step: no optimizer, no loss, no simulation. Any implementation of PPO with these hyper-parameters pays at least this; timed
    on ``repeats`` minibatches and extrapolated."""
    train, validation, _, problem = data
    probe = PPOPolicy("base", **dict(PPO, total_timesteps=PPO["num_steps"], update_epochs=1)).fit(train, validation, problem)
    n_in = probe.policy_.network.encoder.n_inputs
    config = PPOConfig(**{k: v for k, v in PPO.items() if k in PPOConfig.__dataclass_fields__})
    nets = [mlp(n_in + extra, config.hidden_sizes, 1, config.activation) for extra in (0, 1)]
    x = torch.randn(config.batch_size, n_in + 1)
    inputs = [x[:, :-1].contiguous(), x]
    upstream = torch.randn(config.batch_size, 1)
    rollout = [torch.randn(config.num_steps, n_in + extra) for extra in (0, 1)]

    def minibatch():
        for net, inp in zip(nets, inputs):
            net(inp).backward(upstream)

    for _ in range(20):
        minibatch()
    started = time.perf_counter()
    for _ in range(repeats):
        minibatch()
    per_minibatch = (time.perf_counter() - started) / repeats
    started = time.perf_counter()
    with torch.no_grad():
        for net, inp in zip(nets, rollout):
            net(inp)
    per_rollout = time.perf_counter() - started
    total = PPO["total_timesteps"]
    return (per_minibatch * config.update_epochs * total / config.batch_size + per_rollout * total / config.num_steps,
            n_in)


def run_orkit(name, cls, params, data, seed):
    train, validation, test, problem = data
    cpu_started = time.process_time()
    policy = cls("base", seed=seed, **params).fit(train, validation, problem)
    cpu_seconds = time.process_time() - cpu_started
    seconds_to_best, best = time_to_best(policy.history_)
    last = policy.history_[-1]
    budget = f"{last['epoch']} epochs" if "epoch" in last else f"{last['timesteps']} steps"
    return dict(method=name, seconds_to_best=seconds_to_best, seconds=policy.fit_seconds_, cpu_seconds=cpu_seconds,
                budget=budget, validation=best, test=evaluate(policy, test, problem)["weighted_loss"],
                history=policy.history_)


def with_one_hot(dataset):
    """The dataset with one-hot columns of its categorical features appended: the Gymnasium
    adapter then shows SB3 the same information orkit's encoder gives its networks."""
    names = [name for name, role in dataset.feature_roles.items() if role.one_hot]
    for name in names:
        column = dataset.features[:, :, dataset.feature_names.index(name)]
        levels = np.unique(column)
        dataset = dataset.with_features([f"{name}={v:g}" for v in levels],
                                        (column[:, :, None] == levels[None, None, :]).astype(np.float32))
    return dataset


def run_sb3(name, algorithm, data, seed, timesteps, eval_every, base=True):
    """SB3 on the review-period Gymnasium adapter; best checkpoint by the orkit validation loss."""
    from stable_baselines3 import DDPG as SB3DDPG
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    train, validation, test, problem = data
    features = (PPO if algorithm == "ppo" else DDPG)["features"]  # what the orkit learner sees
    if features == "primary":
        features = tuple(train.metadata["primary_features"])
    if features is not None:
        train, validation, test = (d.select_features(features) for d in (train, validation, test))
    train, validation, test = (with_one_hot(d) for d in (train, validation, test))

    def make_env():
        # SB3's advice: actions in [-1, 1] (order = (a + 1) / 2 * max_order), observations normalised
        env = InventoryEnv(train.demand, problem, features=train.features)
        env = ReviewPeriodSteps(BaseAction(env) if base else env)
        return gym.wrappers.RescaleAction(env, -1.0, 1.0)

    env = VecNormalize(DummyVecEnv([make_env]), norm_obs=True, norm_reward=False)
    env.seed(seed)
    if algorithm == "ppo":
        p = PPO
        lr = p["learning_rate"]
        model = SB3PPO("MlpPolicy", env, learning_rate=lambda progress: progress * lr, n_steps=p["num_steps"],
                       batch_size=p["batch_size"], n_epochs=p["update_epochs"], gamma=p["gamma"],
                       gae_lambda=p["gae_lambda"], clip_range=p["clip_coef"], ent_coef=p["ent_coef"],
                       policy_kwargs=dict(net_arch=dict(pi=[256, 256], vf=[256, 256]),
                                          log_std_init=math.log(0.2)),  # 0.1 of the range, as orkit's PPO
                       seed=seed, device="cpu")
    else:
        p = DDPG
        from stable_baselines3.common.noise import NormalActionNoise

        # orkit's noise is in fractions of the action range; SB3's actions span [-1, 1] (2 units)
        noise = NormalActionNoise(np.zeros(1), np.full(1, 2.0 * p.get("exploration_noise", 0.0)))
        model = SB3DDPG("MlpPolicy", env, learning_rate=p["learning_rate"], buffer_size=p["buffer_size"],
                        action_noise=noise if p.get("exploration_noise", 0.0) > 0 else None,
                        learning_starts=p["learning_starts"], batch_size=p["batch_size"], tau=p["tau"],
                        gamma=p["gamma"], train_freq=p["train_freq"], gradient_steps=1,
                        policy_kwargs=dict(net_arch=[64, 64]), seed=seed, device="cpu")

    def as_policy():
        return SB3Policy(model, env, base, problem, train.n_periods)

    class Select(BaseCallback):
        """Validation loss every eval_every steps; remember the best weights and normalisation."""

        def __init__(self):
            super().__init__()
            self.next, self.best, self.state, self.seconds_to_best = eval_every, math.inf, None, 0.0
            self.start = time.perf_counter()

        def _on_step(self):
            if self.num_timesteps >= self.next:
                self.next += eval_every
                loss = evaluate(as_policy(), validation, problem)["weighted_loss"]
                if loss < self.best:
                    self.best, self.seconds_to_best = loss, time.perf_counter() - self.start
                    self.state = (copy.deepcopy(model.policy.state_dict()), copy.deepcopy(env.obs_rms))
            return True

    select = Select()
    start, cpu_started = time.perf_counter(), time.process_time()
    model.learn(total_timesteps=timesteps, callback=select)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_started
    model.policy.load_state_dict(select.state[0])
    env.obs_rms = select.state[1]
    return dict(method=name, seconds_to_best=select.seconds_to_best, seconds=seconds, cpu_seconds=cpu_seconds,
                budget=f"{timesteps} steps",
                validation=select.best, test=evaluate(as_policy(), test, problem)["weighted_loss"])


class PeriodLevels:
    """Order up to a level per period (a time-varying base stock), levels learned by gradient."""

    def __init__(self, levels):
        self.levels = levels

    def act(self, obs):
        return (self.levels[obs.period] - obs.inventory_position).clamp(min=0)


def fit_period_levels(train, problem, steps=600):
    """What a Base network can represent with the period index as its only input: one level per
    review day, fitted through the differentiable simulator on the training trajectories."""
    from orkit.evaluation import per_sku_loss
    from orkit.sim import simulate

    levels = torch.full((train.n_periods,), 40.0, requires_grad=True)
    policy, optimizer = PeriodLevels(levels), torch.optim.Adam([levels], lr=0.5)
    for _ in range(steps):
        loss = per_sku_loss(simulate(policy, train, problem, differentiable=True)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return PeriodLevels(levels.detach())


def print_references(data, setting: int = 1) -> None:
    """Setting 1: fitted base stock, a level per period, the empirical DP (the paper's benchmark).
    Settings 2-3: fitted base stock and the paper's benchmark, DS Base trained on the test set
    itself (an in-sample bound; the bench configuration, seed 0)."""
    from orkit.heuristics import BaseStockPolicy

    train, validation, test, problem = data
    references = {"base stock (fitted)": BaseStockPolicy().fit(train, validation, problem)}
    if setting == 1:
        from orkit.heuristics import EmpiricalDPPolicy

        references["base stock per period"] = fit_period_levels(train, problem)
        references["empirical DP"] = EmpiricalDPPolicy().fit(train, validation, problem)
    else:
        references["DS Base in-sample"] = DSPolicy("base", seed=0, **DS).fit(test, test, problem)
    print(f"{'reference':<22} {'validation':>11} {'test':>8}")
    for name, policy in references.items():
        print(f"{name:<22} {evaluate(policy, validation, problem)['weighted_loss']:>11.4f} "
              f"{evaluate(policy, test, problem)['weighted_loss']:>8.4f}")


def results_table(data, seeds, learners=("ds", "ppo", "ddpg"), input_sets=FEATURE_SETS) -> None:
    """Test loss of DS, PPO and DDPG with None and Base, mean (std) over seeds, as Markdown: every
    cell with each set of network inputs, then the one selected on mean validation loss."""
    train, validation, test, problem = data
    learners = {name: spec for name, spec in {"DS": (DSPolicy, DS), "PPO": (PPOPolicy, PPO), "DDPG": (DDPGPolicy, DDPG)}.items()
                if name.lower() in learners}
    header = ("| learner | regularization | network inputs | test loss, mean (std) | validation loss, mean | "
              "seconds per run, mean | test loss per seed |")
    print(header)
    print("|---|---|---|---|---|---|---|")
    selected = []
    for name, (cls, params) in learners.items():
        for regularization in ("none", "base"):
            runs = []
            for label, inputs in input_sets.items():
                tests, vals, secs = [], [], []
                for seed in seeds:
                    policy = cls(regularization, seed=seed, **dict(params, **inputs)).fit(
                        train, validation, problem)
                    tests.append(evaluate(policy, test, problem)["weighted_loss"])
                    vals.append(policy.best_validation_loss_)
                    secs.append(policy.fit_seconds_)
                row = (f"| {name} | {regularization.capitalize()} | {label} | {np.mean(tests):.4f} ({np.std(tests):.4f}) | "
                       f"{np.mean(vals):.4f} | {np.mean(secs):.1f} | {', '.join(f'{t:.4f}' for t in tests)} |")
                print(row, flush=True)
                runs.append((np.mean(vals), row))
            selected.append(min(runs)[1])
    if len(input_sets) > 1:
        print("\nselected on validation (per cell, the network inputs with the lower mean validation loss):")
        print(header)
        print("|---|---|---|---|---|---|---|")
        for row in selected:
            print(row)


def speed_rows(data, seed, learners, args, sb3: bool) -> list[dict]:
    """One seed of the speed comparison: orkit's learners, then SB3's on the Gymnasium adapter."""
    runs = [("ds", "orkit DS", DSPolicy, DS), ("ppo", "orkit PPO", PPOPolicy, PPO), ("ddpg", "orkit DDPG", DDPGPolicy, DDPG)]
    rows = [] if args.sb3_only else [run_orkit(name, cls, cfg, data, seed) for key, name, cls, cfg in runs if key in learners]
    if sb3:
        if "ppo" in learners:
            rows.append(run_sb3("SB3 PPO", "ppo", data, seed, args.ppo_timesteps, eval_every=PPO["num_steps"]))
        if "ddpg" in learners:
            rows.append(run_sb3("SB3 DDPG", "ddpg", data, seed, args.ddpg_timesteps, eval_every=1000))
        if args.sb3_none:
            rows.append(run_sb3("SB3 PPO None", "ppo", data, seed, args.ppo_timesteps, eval_every=PPO["num_steps"],
                                base=False))
            rows.append(run_sb3("SB3 DDPG None", "ddpg", data, seed, args.ddpg_timesteps, eval_every=1000, base=False))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the learners (the data is the setting's, seed 0)")
    parser.add_argument("--setting", type=int, choices=(1, 2, 3), default=1,
                        help="DeepStock setting (paper.md section 5): 1 (default), 2 or 3 (AR(1) demand)")
    parser.add_argument("--ppo-timesteps", type=int, default=200_000)
    parser.add_argument("--ddpg-timesteps", type=int, default=30_000)
    parser.add_argument("--no-sb3", action="store_true", help="skip stable-baselines3")
    parser.add_argument("--sb3-only", action="store_true", help="only the stable-baselines3 rows")
    parser.add_argument("--sb3-none", action="store_true", help="also SB3 with the order as the action (None)")
    parser.add_argument("--quick", action="store_true", help="a small budget, to check the script")
    parser.add_argument("--results", action="store_true", help="the None / Base table over seeds instead")
    parser.add_argument("--seeds", type=int, default=3, help="with --results: learner seeds 0 .. N-1 (default 3)")
    parser.add_argument("--speed-seeds", type=int, default=1,
                        help="the speed comparison over seeds --seed .. --seed + N - 1, with the median and pooled ratios")
    parser.add_argument("--literal-inputs", action="store_true",
                        help="with --results: the paper's literal network inputs (period index as one raw number, raw units)")
    parser.add_argument("--inputs", choices=("both", "period", "all"), default="both",
                        help="with --results: both input sets (default), the period index alone, or the period "
                             "index plus the demand features")
    parser.add_argument("--set", action="append", default=[], metavar="LEARNER.FIELD=VALUE",
                        help="override a learner's configuration field, e.g. ds.learning_rate=0.01 (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads, the same for orkit and SB3")
    parser.add_argument("--learners", default="ds,ppo,ddpg", help="learners to run (comma-separated)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for config in (DS, PPO, DDPG):  # orkit's learners set torch's threads themselves (default: one)
        config["num_threads"] = args.threads
    learners = set(args.learners.split(","))
    if args.quick:
        args.ppo_timesteps, args.ddpg_timesteps = 4096, 1120
        DS["max_epochs"] = 5

    dataset = generate(f"deepstock-{args.setting}", seed=0)
    train, validation, test = dataset.splits()
    problem = InventoryProblem(**dataset.metadata["problem"])
    data = (train, validation, test, problem)
    DDPG.update(SETTING_DDPG.get(args.setting, {}))
    PPO["total_timesteps"] = args.ppo_timesteps
    DDPG["total_timesteps"], DDPG["eval_every"] = args.ddpg_timesteps, 1000
    configs = {"ds": (DS, DSConfig), "ppo": (PPO, PPOConfig), "ddpg": (DDPG, DDPGConfig)}
    for item in args.set:
        key, sep, value = item.partition("=")
        learner, _, field = key.partition(".")
        if not sep or learner not in configs or field not in configs[learner][1].__dataclass_fields__:
            parser.error(f"--set must be LEARNER.FIELD=VALUE with LEARNER in ds, ppo, ddpg and a field of its "
                         f"config, got {item!r}")
        try:
            configs[learner][0][field] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            configs[learner][0][field] = value
        params, config_class = configs[learner]
        try:  # the learner's own checks, now rather than after the runs before it
            config_class(**{k: v for k, v in params.items() if k in config_class.__dataclass_fields__}).check()
        except (ValidationError, TypeError) as exc:
            parser.error(f"--set {item}: {exc}")

    if args.speed_seeds < 1:
        parser.error(f"--speed-seeds must be at least 1, got {args.speed_seeds}")
    if args.results:
        if args.seeds < 1:
            parser.error(f"--seeds must be at least 1, got {args.seeds}")
        print(f"# DeepStock setting {args.setting}, seeds 0-{args.seeds - 1}, PPO {args.ppo_timesteps} steps, "
              f"DDPG {args.ddpg_timesteps} steps")
        input_sets = LITERAL_INPUT_SETS if args.literal_inputs else FEATURE_SETS
        if args.inputs != "both" and not args.literal_inputs:
            label = "period index" if args.inputs == "period" else "period index + demand features"
            input_sets = {label: FEATURE_SETS[label]}
        if args.setting != 1:  # the setting's one feature x_t in place of setting 1's period index
            x_t = ", ".join(dataset.metadata["primary_features"])
            input_sets = {label.replace("period index", x_t): v for label, v in input_sets.items()}
        results_table(data, seeds=tuple(range(args.seeds)), learners=learners, input_sets=input_sets)
        print_references(data, args.setting)
        return
    print(f"# bench_rl: DeepStock setting {args.setting} (train/validation/test {train.n_skus}/{validation.n_skus}/{test.n_skus} "
          f"trajectories, T = {train.n_periods}), Base regularization, seed"
          + (f" {args.seed}" if args.speed_seeds == 1 else f"s {args.seed}-{args.seed + args.speed_seeds - 1}"))
    print(f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{args.threads} CPU thread{'s' if args.threads > 1 else ''}")
    sb3 = not args.no_sb3
    if sb3:
        try:
            import stable_baselines3
        except ImportError:
            print("# stable-baselines3 is not installed: SB3 rows skipped")
            sb3 = False
        else:
            print(f"# stable-baselines3 {stable_baselines3.__version__} on InventoryEnv (one step per review period)")
    ratios: dict[str, list[tuple[float, float]]] = {}
    summary: dict[str, list[dict]] = {}
    floor = None
    if "ppo" in learners and sb3 and not args.sb3_only:
        floor, n_in = ppo_update_floor(data)
        print(f"# PPO's update floor: the network passes alone (two [256, 256] networks, {n_in} inputs, "
              f"{PPO['update_epochs']} epochs, minibatch {PPO['batch_size']}) take {floor:.1f} s for "
              f"{PPO['total_timesteps']} steps on {args.threads} thread{'s' if args.threads > 1 else ''}")
    for seed in range(args.seed, args.seed + args.speed_seeds):
        rows = speed_rows(data, seed, learners, args, sb3)
        if args.speed_seeds > 1:
            print(f"\n## seed {seed}")
        print(f"{'method':<12} {'s to best':>10} {'s total':>9} {'CPU s':>7} {'budget':>14} {'validation':>11} {'test':>8}")
        for r in rows:
            print(f"{r['method']:<12} {r['seconds_to_best']:>10.1f} {r['seconds']:>9.1f} {r['cpu_seconds']:>7.1f} "
                  f"{r['budget']:>14} {r['validation']:>11.4f} {r['test']:>8.4f}", flush=True)
            summary.setdefault(r["method"], []).append(r)
        by_name = {r["method"]: r for r in rows}
        pairs = [(f"orkit {a}", f"SB3 {a}") for a in ("PPO", "DDPG")]
        pairs = [(o, b) for o, b in pairs if o in by_name and b in by_name]
        if pairs:
            print("\nsame or better loss, faster: orkit's seconds until its validation loss first reached SB3's best,"
                  "\nagainst SB3's seconds to that best (and each side's total)")
            print(f"{'learner':<8} {'SB3 best':>9} {'SB3 s':>7} {'orkit s':>8} {'x faster':>9} {'x total':>8} {'test orkit/SB3':>15}")
            for o, b in pairs:
                ork, base = by_name[o], by_name[b]
                reach = time_to_reach(ork["history"], base["validation"])
                ratio = f"{base['seconds_to_best'] / max(reach, 1e-9):.1f}x" if reach is not None else "never"
                ratios.setdefault(o[6:], []).append((base["seconds_to_best"], reach if reach is not None else math.inf))
                print(f"{o[6:]:<8} {base['validation']:>9.4f} {base['seconds_to_best']:>7.1f} "
                      f"{(reach if reach is not None else math.nan):>8.2f} {ratio:>9} {base['seconds'] / ork['seconds']:>7.1f}x "
                      f"{ork['test']:>7.4f}/{base['test']:.4f}")
                steps = time_to_reach(ork["history"], base["validation"], key="timesteps")
                if o == "orkit PPO" and floor is not None and steps is not None:
                    print(f"         orkit reached it at step {steps}; the update's network passes to that step alone take "
                          f"{floor * steps / PPO['total_timesteps']:.1f} s here; 10x needs {base['seconds_to_best'] / 10:.1f} s")
    if args.speed_seeds > 1:
        print(f"\nper fit over seeds {args.seed}-{args.seed + args.speed_seeds - 1}: CPU seconds (time.process_time) and "
              "wall seconds, mean; test loss, mean and standard deviation over the seeds")
        print(f"{'method':<12} {'CPU s':>7} {'wall s':>7} {'test mean':>10} {'test std':>9}  test per seed")
        for method, runs in summary.items():
            tests = [r["test"] for r in runs]
            print(f"{method:<12} {np.mean([r['cpu_seconds'] for r in runs]):>7.2f} {np.mean([r['seconds'] for r in runs]):>7.2f} "
                  f"{np.mean(tests):>10.4f} {np.std(tests):>9.4f}  {', '.join(f'{t:.4f}' for t in tests)}")
    if args.speed_seeds > 1 and ratios:
        print(f"\nover seeds {args.seed}-{args.seed + args.speed_seeds - 1}: the ratio per seed, its median, and the "
              "pooled ratio (SB3's seconds to its best, summed, over orkit's seconds to reach it, summed)")
        for learner, pairs_ in ratios.items():
            per_seed = [sb / ork for sb, ork in pairs_]
            pooled = sum(sb for sb, _ in pairs_) / sum(ork for _, ork in pairs_)
            print(f"{learner:<8} per seed {', '.join(f'{r:.1f}x' for r in per_seed)}; median {np.median(per_seed):.1f}x; "
                  f"pooled {pooled:.1f}x")
    print_references(data, args.setting)

if __name__ == "__main__":
    main()

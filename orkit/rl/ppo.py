r"""PPO: proximal policy optimisation of a regularized Gaussian policy, with batched rollouts.

Schulman et al. 2017, as in DeepStock (paper.md section 4) and CleanRL's
``ppo_continuous_action.py``. One RL step is one review period; a rollout is one
:func:`~orkit.sim.simulate` run of the stochastic policy over a batch of training trajectories
(drawn with replacement), so thousands of SKU-steps come from one batched simulation.

.. code-block:: text

    for update = 1 .. total_timesteps / steps_per_rollout:
        learning rate <- (1 - (update - 1) / n_updates) * learning_rate    # linear decay
        rollout: simulate the policy a ~ N(mu_theta(s), sigma) on ceil(num_steps / K) trajectories;
                 record states, actions, log-probabilities, values V(s)
        rewards r_t = -(cost of days [t+L, t+L+P)) / s_i            (orkit.rl.rollout)
        advantages by GAE(gamma, lambda) over the K review steps; returns = advantages + values
        for update_epochs epochs, minibatches of batch_size steps:
            ratio = pi_new(a|s) / pi_old(a|s)
            loss  = -min(ratio A, clip(ratio, 1 - clip_coef, 1 + clip_coef) A)
                    - ent_coef * entropy + vf_coef * (V(s) - return)^2
            Adam step, gradient norm clipped at max_grad_norm
        every eval_every updates: validation loss of the mean action; keep the best weights;
            stop if it has not improved for early_stopping_steps steps (when set)

The Gaussian lives in the network's output space (fractions of the action range, see
:class:`~orkit.rl.networks.PolicyNetwork`): the head turns a sampled output into an order, so
every regularization trains with the same code. The standard deviation is a learned,
state-independent parameter; the value network sees the state and the time ``t / T`` (the
horizon is finite). Episodes end at the horizon (no bootstrap). Nets: [256, 256] (paper).

Data-parallel (``torchrun``, :mod:`orkit.rl.distributed`): each process simulates a contiguous
block of every rollout's trajectories (with the same draws as one process), and takes its rows
of every minibatch; the advantage normalisation, the gradients and the logged statistics are
summed over the processes, so every process takes the one-process step.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.distributions import Normal

from orkit.core.errors import ValidationError
from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.rl._training import TrainingRun, adam, generator_for, limit_threads, setup, stalled
from orkit.rl.distributed import DataParallel
from orkit.rl.encoder import EncodedObservation
from orkit.rl.networks import NetworkConfig, PolicyNetwork, mlp
from orkit.rl.policy import NeuralEstimator, TrainingResult
from orkit.rl.rollout import check_rollout_lives, next_review_steps, record_rollout, review_window_costs, scalar_timing, subset_input
from orkit.sim import review_days

__all__ = ["PPOConfig", "PPOAgent", "train_ppo", "PPOPolicy", "ppo_loss"]

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))  # the constants of Normal.log_prob and Normal.entropy
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

log = logging.getLogger(__name__)


@dataclass
class PPOConfig(NetworkConfig):
    """Hyper-parameters of PPO (paper.md section 4; search space in brackets)."""

    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layers of the policy and of the value network (paper: [256, 256])."""
    activation: str = "tanh"
    """Hidden-layer activation (stable-baselines3's default for PPO)."""
    output_activation: str = "identity"
    """The Gaussian's mean is the raw output."""
    learning_rate: float = 3e-4
    """Adam step size at the start, decayed linearly to 0 [log-uniform 5e-5 .. 9e-3]."""
    total_timesteps: int = 200_000
    """Training budget in RL steps (SKU review periods)."""
    num_steps: int = 2048
    """Steps per rollout [{1024, 2048, 4096}]; rounded up to whole trajectories."""
    batch_size: int = 256
    """Minibatch size of the updates [{128, 256, 512}]."""
    update_epochs: int = 10
    """Passes over each rollout [{1, 3, 5, 10}]."""
    clip_coef: float = 0.2
    """Clipping of the probability ratio [U(0.1, 0.3)]."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus [U(1e-4, 0.5)]."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    gamma: float = 0.99
    """Discount factor per review period [U(0.98, 1)]."""
    gae_lambda: float = 0.95
    """GAE lambda [U(0.5, 1)]."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    anneal_lr: bool = True
    """Linear learning-rate decay (paper)."""
    initial_action_std: float = 0.1
    """Standard deviation of the Gaussian at the start, in fractions of the action range."""
    reward_scale: float = 1.0
    """Multiplier of the rewards."""
    eval_every: int = 1
    """Updates between validation evaluations (best-checkpoint selection)."""
    checkpoint_every: int = 1
    """Updates between training-state checkpoints (with ``checkpoint_dir``)."""
    early_stopping_steps: int | None = None
    """Stop when the validation loss has not improved for this many RL steps (the best
    weights are kept either way); ``None``: train the whole budget, as the paper."""

    def check(self) -> None:
        super().check()
        check_float("learning_rate", self.learning_rate, minimum=0, strict_minimum=True)
        for name in ("total_timesteps", "num_steps", "batch_size", "update_epochs", "eval_every", "checkpoint_every"):
            check_int(name, getattr(self, name), minimum=1)
        if self.early_stopping_steps is not None:
            check_int("early_stopping_steps", self.early_stopping_steps, minimum=1)
        check_float("clip_coef", self.clip_coef, minimum=0, strict_minimum=True)
        check_float("ent_coef", self.ent_coef, minimum=0)
        check_float("vf_coef", self.vf_coef, minimum=0)
        check_float("max_grad_norm", self.max_grad_norm, minimum=0, strict_minimum=True)
        check_float("gamma", self.gamma, minimum=0, maximum=1)
        check_float("gae_lambda", self.gae_lambda, minimum=0, maximum=1)
        check_float("initial_action_std", self.initial_action_std, minimum=0, strict_minimum=True)
        check_float("reward_scale", self.reward_scale, minimum=0, strict_minimum=True)


class PPOAgent(nn.Module):
    """The regularized policy (Gaussian mean), its log standard deviation and the value network."""

    def __init__(self, actor: PolicyNetwork, hidden_sizes: tuple[int, ...], activation: str, initial_action_std: float):
        super().__init__()
        self.actor = actor
        self.critic = mlp(actor.encoder.n_inputs + 1, hidden_sizes, 1, activation)
        self.log_std = nn.Parameter(torch.full((actor.n_outputs,), math.log(initial_action_std)))

    def value(self, encoded: EncodedObservation) -> torch.Tensor:
        return self.critic(torch.cat([encoded.inputs, encoded.time.unsqueeze(1)], 1)).squeeze(1)

    def distribution(self, encoded: EncodedObservation) -> Normal:
        mean = self.actor.raw(encoded)
        return Normal(mean, self.log_std.exp().expand_as(mean))


@limit_threads(PPOConfig)
def train_ppo(
    train: Any,
    validation: Any,
    problem: InventoryProblem,
    regularization: Any = "base",
    config: PPOConfig | dict | None = None,
    *,
    warm_start: Any = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[dict[str, Any]], Any] | None = None,
) -> TrainingResult:
    """Train a regularized policy with PPO; see the module docstring.

    Parameters are those of :func:`~orkit.rl.ds.train_ds` with a :class:`PPOConfig`. The
    problem must have one lead time and review period for every SKU.
    """
    s = setup(train, validation, problem, regularization, config, PPOConfig, checkpoint_dir)
    config, actor, device = s.config, s.network, s.device
    L, P = scalar_timing(problem, "PPO")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 7)
        agent = PPOAgent(actor, config.hidden_sizes, config.activation, config.initial_action_std).to(device)
    optimizer = adam(agent.parameters(), config.learning_rate, eps=1e-5)
    generator = generator_for(config.seed)
    n_review = int((review_days(s.train_input.n_periods, P) + L < s.train_input.n_periods).sum())  # K review days whose order arrives in time
    n_trajectories = max(1, math.ceil(config.num_steps / max(n_review, 1)))
    steps_per_rollout = n_trajectories * n_review
    n_updates = max(1, config.total_timesteps // steps_per_rollout)
    dp = s.dp  # data-parallel: this process simulates trajectories [lo, hi) of every rollout
    if dp.active:
        check_rollout_lives(
            s.train, "PPO with several processes",
            why="the processes split each rollout's rows by position, and a SKU with its own life leaves out the rows "
                "outside it, so the shares would no longer line up",
            instead="train PPO in one process, or DS (which splits SKUs), or on the SKUs that live the whole horizon")
    if dp.active and n_trajectories < dp.world_size:
        raise ValidationError(
            f"num_steps must give each of the {dp.world_size} processes a trajectory of every rollout: "
            f"{n_trajectories} trajectories of {n_review} review steps from num_steps={config.num_steps}; "
            f"num_steps >= {dp.world_size * n_review} does")
    lo, hi = dp.bounds(n_trajectories)
    run = TrainingRun("ppo", s, problem, {"agent": agent, "optimizer": optimizer, "generator": generator},
                      callback=callback)
    update = run.start(warm_start=warm_start, resume=resume, counters={"update": 0},
                       first_entry={"update": 0, "timesteps": 0, "validation_loss": None,
                                    "learning_rate": config.learning_rate})["update"]

    def step(obs):
        """The stochastic policy on a review day; records what the update needs."""
        encoded = actor.encoder(obs)
        dist = agent.distribution(encoded)
        if dp.active:  # the whole rollout's draw, as one process makes it; this process's rows
            noise = torch.randn((n_trajectories, *dist.mean.shape[1:]), generator=generator)[lo:hi]
        else:
            noise = torch.randn(dist.mean.shape, generator=generator)
        noise = noise.to(device=device, dtype=dist.mean.dtype)
        action = dist.mean + dist.stddev * noise
        orders = actor.orders(actor.output_from_raw(action), encoded)
        record = {"encoded": encoded, "action": action, "logprob": dist.log_prob(action).sum(1),
                  "value": agent.value(encoded)}
        return orders, record

    parameters = list(agent.parameters())
    while update < n_updates and not stalled(run.history, config.early_stopping_steps):  # (a resumed run may have stopped)
        update += 1
        if config.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (update - 1.0) / n_updates) * config.learning_rate

        # ---- rollout: one batched simulation of the stochastic policy
        with torch.no_grad():
            index = torch.randint(s.train_input.n_skus, (n_trajectories,), generator=generator)
            if dp.active:
                index = index[lo:hi]
            rollout = record_rollout(step, subset_input(s.train_input, index), problem, lead_time=L)
        r = rollout.records
        encoded = r["encoded"]
        rewards = -review_window_costs(rollout.ledger, rollout.periods, L, P) / encoded.scale * config.reward_scale
        values = r["value"]
        lived = None if bool(rollout.is_review.all()) else rollout.is_review  # SKUs with lives (see below)

        # ---- generalised advantage estimation over the K review steps (the horizon ends the episode)
        advantages = torch.zeros_like(rewards)
        if lived is None:
            last = torch.zeros_like(rewards[:, 0])
            for k in reversed(range(rewards.shape[1])):
                not_last = 0.0 if k == rewards.shape[1] - 1 else 1.0
                next_value = values[:, k + 1] if not_last else torch.zeros_like(last)
                delta = rewards[:, k] + config.gamma * next_value * not_last - values[:, k]
                last = delta + config.gamma * config.gae_lambda * not_last * last
                advantages[:, k] = last
        else:
            advantages = lived_advantages(rewards, values, lived, config.gamma, config.gae_lambda)
        returns = advantages + values

        # ---- optimise the clipped surrogate objective, update_epochs passes in minibatches. One
        # packed tensor per rollout, one gather per minibatch: [critic input (network inputs,
        # t / T) | action | log-prob | advantage | return]; the actor reads the network inputs
        n_in, m = encoded.inputs.shape[-1], r["action"].shape[-1]
        packed = torch.cat([encoded.inputs.flatten(0, 1), encoded.time.reshape(-1, 1), r["action"].flatten(0, 1),
                            r["logprob"].reshape(-1, 1), advantages.reshape(-1, 1), returns.reshape(-1, 1)], 1)
        if lived is not None:  # the rows of each SKU's own review days only
            packed = packed[lived.reshape(-1)]
        clip_fractions = []
        if dp.active:  # rows [first, first + n_rows) of the rollout's n_trajectories x K rows are this process's
            n_rows, first = packed.shape[0], lo * rewards.shape[1]
            total_rows = n_trajectories * rewards.shape[1]
        for _ in range(config.update_epochs):
            for mb in torch.randperm(total_rows if dp.active else packed.shape[0], generator=generator).split(
                    config.batch_size):
                if dp.active:
                    pg_loss, v_loss, clip_fraction = sharded_update(
                        agent, config, optimizer, parameters, dp, packed, mb, first, n_rows, n_in, m)
                    clip_fractions.append(clip_fraction)
                    continue
                batch = packed[mb.to(device)]
                critic_input, action = batch[:, :n_in + 1], batch[:, n_in + 1:n_in + 1 + m]
                old_logprob, mb_advantages, mb_returns = batch[:, n_in + 1 + m:].unbind(1)
                loss, pg_loss, v_loss, ratio = ppo_loss(agent, config, critic_input[:, :n_in], critic_input, action,
                                                        old_logprob, mb_advantages, mb_returns)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(parameters, config.max_grad_norm, foreach=True)
                optimizer.step()
                clip_fractions.append(((ratio.detach() - 1.0).abs() > config.clip_coef).float().mean())

        # ---- validation of the mean action: keep the best weights
        if dp.active:  # the mean over the whole rollout's trajectories
            train_return = float(dp.sum(rewards.sum(1).sum().reshape(1)) / n_trajectories)
        else:
            train_return = float(rewards.sum(1).mean())
        entry = {"update": update, "timesteps": update * steps_per_rollout,
                 "train_return": train_return, "learning_rate": optimizer.param_groups[0]["lr"],
                 "policy_loss": pg_loss.item(), "value_loss": v_loss.item(),
                 "clip_fraction": torch.stack(clip_fractions).mean().item(), "action_std": agent.log_std.exp().mean().item()}
        if update % config.eval_every == 0 or update == n_updates:
            entry["validation_loss"] = run.validate()
        if not run.record(entry, {"update": update}, save=update % config.checkpoint_every == 0 or update == n_updates):
            break
        if "validation_loss" in entry and stalled(run.history, config.early_stopping_steps):
            log.info("PPO: no validation improvement for %d steps, stopping at update %d", config.early_stopping_steps, update)
            break
    return run.finish({"update": update}, extra={"steps_per_rollout": steps_per_rollout, "n_updates": n_updates})


def lived_advantages(rewards: torch.Tensor, values: torch.Tensor, is_review: torch.Tensor, gamma: float,
                     gae_lambda: float) -> torch.Tensor:
    """Generalised advantage estimates (n_skus, K) when SKUs start or end inside the horizon:
    a SKU's steps are its own review days (``is_review``), each followed by its next one
    (:func:`~orkit.rl.rollout.next_review_steps`), and its episode ends after its last, as the
    horizon ends it for a SKU that lives it all; the other steps get 0 (their rows are left out
    of the update)."""
    following = next_review_steps(is_review)
    has_next = (following >= 0).to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    for k in reversed(range(rewards.shape[1])):
        j = following[:, k].clamp(min=0).unsqueeze(1)
        next_value = values.gather(1, j)[:, 0] * has_next[:, k]
        next_advantage = advantages.gather(1, j)[:, 0] * has_next[:, k]
        delta = rewards[:, k] + gamma * next_value - values[:, k]
        advantages[:, k] = torch.where(is_review[:, k], delta + gamma * gae_lambda * next_advantage,
                                       torch.zeros_like(delta))
    return advantages


def sharded_update(agent: PPOAgent, config: PPOConfig, optimizer: torch.optim.Optimizer,
                   parameters: list[torch.Tensor], dp: DataParallel, packed: torch.Tensor, mb: torch.Tensor,
                   first: int, n_rows: int, n_in: int, m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One data-parallel PPO step on the minibatch ``mb`` (rows of the whole rollout): this
    process's rows of it (those in ``[first, first + n_rows)``, possibly none) give its share of
    the loss (:func:`ppo_loss` with the advantages normalised by the whole minibatch's mean and
    standard deviation); gradients and statistics are summed over the processes in one
    ``all_reduce``, then clipped and applied as one process on the whole minibatch would.
    Returns the minibatch's ``(policy loss, value loss, clip fraction)``."""
    mine = mb[(mb >= first) & (mb < first + n_rows)] - first
    batch = packed[mine.to(packed.device)]
    critic_input, action = batch[:, :n_in + 1], batch[:, n_in + 1:n_in + 1 + m]
    old_logprob, mb_advantages, mb_returns = batch[:, n_in + 1 + m:].unbind(1)
    loss, pg_loss, v_loss, ratio = ppo_loss(agent, config, critic_input[:, :n_in], critic_input, action, old_logprob,
                                            mb_advantages, mb_returns, dp=dp, batch_size=len(mb))
    optimizer.zero_grad()
    loss.backward()
    clipped = ((ratio.detach() - 1.0).abs() > config.clip_coef).sum() / len(mb)
    stats = dp.reduce_gradients(parameters, torch.stack([pg_loss.detach(), v_loss.detach(), clipped.to(loss.dtype)]))
    nn.utils.clip_grad_norm_(parameters, config.max_grad_norm, foreach=True)
    optimizer.step()
    return stats[0], stats[1], stats[2]


def ppo_loss(agent: PPOAgent, config: PPOConfig, actor_input: torch.Tensor, critic_input: torch.Tensor,
             action: torch.Tensor, old_logprob: torch.Tensor, advantages: torch.Tensor, returns: torch.Tensor,
             *, dp: DataParallel | None = None, batch_size: int | None = None):
    """The PPO loss of one minibatch (clipped surrogate, entropy bonus, value error): returns
    ``(loss, policy loss, value loss, probability ratios)``.

    With ``dp`` (several processes, :mod:`orkit.rl.distributed`) the rows given are this
    process's share of a minibatch of ``batch_size`` rows: the advantages are normalised with
    the whole minibatch's mean and standard deviation (summed over the processes), and each
    mean over the minibatch becomes this share's sum over ``batch_size``, so that the losses
    (and their gradients) summed over the processes are the whole minibatch's.
    """
    mean = agent.actor.body(actor_input)
    scale = agent.log_std.exp().expand_as(mean)
    # the Gaussian's log-density and entropy, as torch.distributions.Normal computes them
    # (without building a distribution object per minibatch)
    new_logprob = (-((action - mean) ** 2) / (2 * scale**2) - scale.log() - _LOG_SQRT_2PI).sum(1)
    entropy = (0.5 + _HALF_LOG_2PI + torch.log(scale)).sum(1)
    ratio = (new_logprob - old_logprob).exp()
    if dp is not None and dp.active:
        n = int(batch_size)
        if config.norm_adv and n > 1:  # two passes, as Tensor.std: the mean, then the squared deviations
            centred = advantages - dp.sum(advantages.sum().reshape(1)) / n
            advantages = centred / ((dp.sum(centred.square().sum().reshape(1)) / (n - 1)).sqrt() + 1e-8)
        clipped_ratio = ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)
        pg_loss = torch.max(-advantages * ratio, -advantages * clipped_ratio).sum() / n
        v_loss = (agent.critic(critic_input).squeeze(1) - returns).square().sum() / n
        loss = pg_loss - config.ent_coef * entropy.sum() / n + config.vf_coef * v_loss
        return loss, pg_loss, v_loss, ratio
    if config.norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    clipped_ratio = ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)
    pg_loss = torch.max(-advantages * ratio, -advantages * clipped_ratio).mean()
    v_loss = (agent.critic(critic_input).squeeze(1) - returns).square().mean()
    loss = pg_loss - config.ent_coef * entropy.mean() + config.vf_coef * v_loss
    return loss, pg_loss, v_loss, ratio


class PPOPolicy(NeuralEstimator):
    """A policy trained by PPO (:func:`train_ppo`); ``fit(train, validation, problem)`` trains it.

    Parameters are those of :class:`~orkit.rl.policy.NeuralEstimator` plus any
    :class:`PPOConfig` field as a keyword.

    Examples
    --------
    >>> from orkit.core import InventoryProblem
    >>> from orkit.data import generate
    >>> from orkit.rl import PPOPolicy
    >>> data = generate("deepstock-1", seed=0)
    >>> train, validation, test = data.splits()
    >>> problem = InventoryProblem(**data.metadata["problem"])
    >>> policy = PPOPolicy("base", total_timesteps=280, num_steps=140, hidden_sizes=(32, 32))
    >>> [entry["timesteps"] for entry in policy.fit(train, validation, problem).history_]
    [0, 140, 280]
    """

    learner = "ppo"
    policy_name = "ppo"
    config_class = PPOConfig
    train_function = staticmethod(train_ppo)

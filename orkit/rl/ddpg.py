r"""DDPG: deterministic actor, critic, target networks and a replay buffer, with batched rollouts.

Lillicrap et al. 2016, as in DeepStock (paper.md section 4) and CleanRL's
``ddpg_continuous_action.py``. One RL step is one review period. Experience is collected in
batched simulations of ``num_envs`` training trajectories (drawn with replacement); gradient
steps follow each batch so that, as in stable-baselines3 with one environment, there is one
gradient step per ``train_freq`` collected steps.

.. code-block:: text

    while timesteps < total_timesteps:
        rollout: simulate num_envs trajectories with a = mu_theta(s) (+ N(0, noise^2) if
                 exploration_noise > 0); before learning_starts steps, a ~ U[0, 1]^m instead
        store (s, a, r, s', done) of every review step in the replay buffer
        r_t = -(cost of days [t+L, t+L+P)) / s_i                      (orkit.rl.rollout)
        if timesteps >= learning_starts: (steps collected / train_freq) gradient steps:
            sample a minibatch; y = r + gamma (1 - done) Q'(s', mu'(s'))
            critic: minimise (Q(s, a) - y)^2;  actor: maximise Q(s, mu(s))
            target networks: theta' <- tau theta + (1 - tau) theta'
        every eval_every steps: validation loss of the actor; keep the best weights; stop if it
            has not improved for early_stopping_steps steps (when set)

Actions are the network's raw outputs (fractions of the action range, see
:class:`~orkit.rl.networks.PolicyNetwork`); the regularization head turns them into orders,
so every regularization trains with the same code. The critic sees the state, the time
``t / T`` and the action. The paper's configurations use no exploration noise; orkit's default
is Gaussian noise of 0.1 of the action range (without it DDPG Base stalls on setting 1); like
stable-baselines3, the first ``learning_starts`` steps use uniformly random actions.
Nets: actor and critic [64, 64] (paper).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.optim.swa_utils import get_ema_multi_avg_fn

from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.rl._training import TrainingRun, adam, generator_for, gradient_step, limit_threads, setup, stalled
from orkit.rl.buffers import ReplayBuffer
from orkit.rl.networks import NetworkConfig, PolicyNetwork, mlp
from orkit.rl.policy import NeuralEstimator, TrainingResult
from orkit.rl.rollout import next_review_steps, record_rollout, review_window_costs, scalar_timing, subset_input

__all__ = ["DDPGConfig", "train_ddpg", "DDPGPolicy"]

log = logging.getLogger(__name__)


@dataclass
class DDPGConfig(NetworkConfig):
    """Hyper-parameters of DDPG (paper.md section 4; search space in brackets)."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layers of the actor and of the critic (paper: [64, 64])."""
    activation: str = "relu"
    """Hidden-layer activation (stable-baselines3's default for DDPG)."""
    output_activation: str = "identity"
    """The actor's action is its raw output."""
    learning_rate: float = 1e-3
    """Adam step size of actor and critic [log-uniform 3e-4 .. 9e-3]."""
    anneal_lr: bool = False
    """Decay the step size linearly to 0 over ``total_timesteps`` (the paper's linear decay),
    set before each rollout's gradient steps; ``False``: constant, as stable-baselines3."""
    tau: float = 5e-3
    """Target-network update rate [log-uniform 1e-3 .. 1e-2]."""
    batch_size: int = 256
    """Minibatch size [{128, 256, 512}]."""
    buffer_size: int = 50_000
    """Replay buffer capacity [{20k, 50k, 100k}]."""
    train_freq: int = 1
    """Collected steps per gradient step [{1, 14}]."""
    learning_starts: int = 500
    """Steps collected with random actions before learning starts [{100, 500, 1000}]."""
    gamma: float = 0.99
    """Discount factor per review period [U(0.98, 1)]."""
    total_timesteps: int = 20_000
    """Training budget in RL steps (SKU review periods)."""
    num_envs: int = 4
    """Trajectories simulated per rollout."""
    exploration_noise: float = 0.1
    """Standard deviation of Gaussian action noise, in fractions of the action range. The
    paper's configurations use none; on DeepStock setting 1, DDPG Base without noise stalled at
    its first policy for long stretches (figures in docs/results/deepstock-setting-1.md)."""
    reward_scale: float = 1.0
    """Multiplier of the rewards."""
    eval_every: int = 1_000
    """Steps between validation evaluations (best-checkpoint selection)."""
    checkpoint_every: int = 1
    """Evaluations between training-state checkpoints (with ``checkpoint_dir``)."""
    early_stopping_steps: int | None = None
    """Stop when the validation loss has not improved for this many RL steps (the best
    weights are kept either way); ``None``: train the whole budget, as the paper."""

    def check(self) -> None:
        super().check()
        check_float("learning_rate", self.learning_rate, minimum=0, strict_minimum=True)
        check_float("tau", self.tau, minimum=0, maximum=1)
        for name in ("batch_size", "buffer_size", "train_freq", "total_timesteps", "num_envs", "eval_every",
                     "checkpoint_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("learning_starts", self.learning_starts, minimum=0)
        check_float("gamma", self.gamma, minimum=0, maximum=1)
        check_float("exploration_noise", self.exploration_noise, minimum=0)
        check_float("reward_scale", self.reward_scale, minimum=0, strict_minimum=True)
        if self.early_stopping_steps is not None:
            check_int("early_stopping_steps", self.early_stopping_steps, minimum=1)


@limit_threads(DDPGConfig)
def train_ddpg(
    train: Any,
    validation: Any,
    problem: InventoryProblem,
    regularization: Any = "base",
    config: DDPGConfig | dict | None = None,
    *,
    warm_start: Any = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[dict[str, Any]], Any] | None = None,
) -> TrainingResult:
    """Train a regularized policy with DDPG; see the module docstring.

    Parameters are those of :func:`~orkit.rl.ds.train_ds` with a :class:`DDPGConfig`. The
    problem must have one lead time and review period for every SKU. Checkpoints include the
    replay buffer, so a resumed run matches an uninterrupted one.
    """
    s = setup(train, validation, problem, regularization, config, DDPGConfig, checkpoint_dir)
    config, actor, device = s.config, s.network, s.device
    L, P = scalar_timing(problem, "DDPG")
    n_inputs, m = actor.encoder.n_inputs + 1, actor.n_outputs  # critic state: inputs and time
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed + 7)
        critic = mlp(n_inputs + m, config.hidden_sizes, 1, config.activation).to(device)
    actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
    actor_optimizer = adam(actor.parameters(), config.learning_rate)
    critic_optimizer = adam(critic.parameters(), config.learning_rate)
    buffer = ReplayBuffer(config.buffer_size, {"obs": (n_inputs,), "action": (m,), "reward": (), "next_obs": (n_inputs,),
                                               "done": ()}, device=device)
    generator = generator_for(config.seed)
    run = TrainingRun("ddpg", s, problem, {
        "actor": actor, "critic": critic, "actor_target": actor_target, "critic_target": critic_target,
        "actor_optimizer": actor_optimizer, "critic_optimizer": critic_optimizer, "buffer": buffer,
        "generator": generator}, callback=callback)
    counters = run.start(warm_start=warm_start, resume=resume,
                         counters={"timesteps": 0, "gradient_steps": 0, "pending": 0.0, "next_eval": config.eval_every},
                         first_entry={"timesteps": 0, "gradient_steps": 0})
    timesteps, gradient_steps, pending, next_eval = (counters[k] for k in ("timesteps", "gradient_steps", "pending",
                                                                           "next_eval"))
    if not run.resumed:  # the targets start as copies of the (warm-started) networks
        actor_target.load_state_dict(actor.state_dict())

    def step(obs):
        """The actor on a review day (random before learning starts, plus optional noise)."""
        encoded = actor.encoder(obs)
        action = actor.raw(encoded)
        if random_phase:
            action = torch.rand(action.shape, generator=generator).to(device=device, dtype=action.dtype)
        elif config.exploration_noise > 0:
            noise = torch.randn(action.shape, generator=generator).to(device=device, dtype=action.dtype)
            action = action + config.exploration_noise * noise
        orders = actor.orders(actor.output_from_raw(action), encoded)
        state = torch.cat([encoded.inputs, encoded.time.unsqueeze(1)], 1)
        return orders, {"obs": state, "action": action, "scale": encoded.scale}

    def q_value(net: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Q(s, a), shape (batch, 1): the critic sees the state (network inputs and t / T) and the action."""
        return net(torch.cat([obs, action], 1))

    def policy_action(net: PolicyNetwork, obs: torch.Tensor) -> torch.Tensor:
        """mu(s): the actor's raw output (it reads the network inputs, not t / T)."""
        return net.body(obs[:, :-1])

    actor_params = [p for p in actor.parameters() if p.requires_grad]
    critic_params = list(critic.parameters())
    online_params = [*actor.parameters(), *critic.parameters()]
    target_params = [*actor_target.parameters(), *critic_target.parameters()]
    polyak_update = get_ema_multi_avg_fn(1.0 - config.tau)  # theta' <- tau theta + (1 - tau) theta'
    stop = stalled(run.history, config.early_stopping_steps)  # a resumed run that had stopped early
    losses: dict[str, torch.Tensor] = {}
    while timesteps < config.total_timesteps and not stop:
        # ---- rollout: one batched simulation of the actor, into the replay buffer
        random_phase = timesteps < config.learning_starts
        with torch.no_grad():
            index = torch.randint(s.train_input.n_skus, (config.num_envs,), generator=generator)
            rollout = record_rollout(step, subset_input(s.train_input, index), problem, lead_time=L)
        r = rollout.records
        rewards = -review_window_costs(rollout.ledger, rollout.periods, L, P) / r["scale"] * config.reward_scale
        n, K = rewards.shape
        if bool(rollout.is_review.all()):
            next_obs = torch.cat([r["obs"][:, 1:], torch.zeros_like(r["obs"][:, :1])], 1)
            done = torch.zeros(n, K, device=device)
            done[:, -1] = 1.0
            buffer.add(obs=r["obs"].flatten(0, 1), action=r["action"].flatten(0, 1), reward=rewards.flatten(),
                       next_obs=next_obs.flatten(0, 1), done=done.flatten())
        else:  # SKUs that start or end inside the horizon: a transition runs from one of a SKU's own review days
            # to its next (next_review_steps), the last of its life is terminal, and the other steps are left out
            following = next_review_steps(rollout.is_review)
            keep = rollout.is_review.reshape(-1)
            rows = torch.arange(n, device=following.device).unsqueeze(1)
            next_obs = r["obs"][rows, following.clamp(min=0)] * (following >= 0).unsqueeze(-1).to(r["obs"].dtype)
            done = (following < 0).to(rewards.dtype)
            buffer.add(obs=r["obs"].flatten(0, 1)[keep], action=r["action"].flatten(0, 1)[keep],
                       reward=rewards.flatten()[keep], next_obs=next_obs.flatten(0, 1)[keep], done=done.flatten()[keep])
            n, K = int(keep.sum()), 1  # the transitions collected
        timesteps += n * K

        # ---- learn: one gradient step per train_freq collected steps (their minibatches drawn at once)
        if timesteps >= config.learning_starts:
            if config.anneal_lr:
                for optimizer in (critic_optimizer, actor_optimizer):
                    optimizer.param_groups[0]["lr"] = (1.0 - (timesteps - n * K) / config.total_timesteps) * config.learning_rate
            pending += n * K / config.train_freq
            count = int(pending)
            batches = buffer.sample(config.batch_size, generator, count=count)
            rewards_b, not_done_b = batches["reward"].unsqueeze(-1), 1.0 - batches["done"].unsqueeze(-1)
            for i in range(count):
                obs, action, next_obs_b = batches["obs"][i], batches["action"][i], batches["next_obs"][i]
                with torch.no_grad():  # y = r + gamma (1 - done) Q'(s', mu'(s'))
                    next_q = q_value(critic_target, next_obs_b, policy_action(actor_target, next_obs_b))
                    target = rewards_b[i] + config.gamma * not_done_b[i] * next_q
                critic_loss = (q_value(critic, obs, action) - target).square().mean()
                gradient_step(critic_optimizer, critic_loss, critic_params)

                actor_loss = -q_value(critic, obs, policy_action(actor, obs)).mean()
                gradient_step(actor_optimizer, actor_loss, actor_params)  # the critic's weights stay

                polyak_update(target_params, online_params, None)
                gradient_steps += 1
                losses = {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach()}
            pending -= count

        # ---- validation of the actor: keep the best weights
        if timesteps >= next_eval or timesteps >= config.total_timesteps:
            next_eval += config.eval_every * max(1, (timesteps - next_eval) // config.eval_every + 1)
            entry = {"timesteps": timesteps, "gradient_steps": gradient_steps, "validation_loss": run.validate(),
                     "train_return": float(rewards.sum(1).mean()), "learning_rate": actor_optimizer.param_groups[0]["lr"]}
            entry.update({k: v.item() for k, v in losses.items()})
            evaluations = len(run.history)  # this one included (the first entry is the initial validation)
            counters = {"timesteps": timesteps, "gradient_steps": gradient_steps, "pending": pending,
                        "next_eval": next_eval}
            save = evaluations % config.checkpoint_every == 0 or timesteps >= config.total_timesteps
            stop = not run.record(entry, counters, save=save)
            if stalled(run.history, config.early_stopping_steps):
                log.info("DDPG: no validation improvement for %d steps, stopping at step %d", config.early_stopping_steps, timesteps)
                stop = True
    return run.finish({"timesteps": timesteps, "gradient_steps": gradient_steps, "pending": pending,
                       "next_eval": next_eval}, extra={"gradient_steps": gradient_steps})


class DDPGPolicy(NeuralEstimator):
    """A policy trained by DDPG (:func:`train_ddpg`); ``fit(train, validation, problem)`` trains it.

    Parameters are those of :class:`~orkit.rl.policy.NeuralEstimator` plus any
    :class:`DDPGConfig` field as a keyword.

    Examples
    --------
    >>> from orkit.core import InventoryProblem
    >>> from orkit.data import generate
    >>> from orkit.rl import DDPGPolicy
    >>> data = generate("deepstock-1", seed=0)
    >>> train, validation, test = data.splits()
    >>> problem = InventoryProblem(**data.metadata["problem"])
    >>> policy = DDPGPolicy("base", total_timesteps=112, learning_starts=56, eval_every=56, batch_size=64)
    >>> [entry["timesteps"] for entry in policy.fit(train, validation, problem).history_]
    [0, 56, 112]
    """

    learner = "ddpg"
    policy_name = "ddpg"
    config_class = DDPGConfig
    train_function = staticmethod(train_ddpg)

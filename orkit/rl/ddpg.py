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
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from orkit.core.problem import InventoryProblem
from orkit.core.validation import check_float, check_int
from orkit.rl._manual import ManualMLP
from orkit.rl._training import adam, adam_step, generator_for, limit_threads, setup, stalled, warm_start_network
from orkit.rl.buffers import ReplayBuffer
from orkit.rl.checkpoint import clone_state_dict
from orkit.rl.networks import NetworkConfig, mlp
from orkit.rl.policy import NeuralEstimator, NeuralPolicy, TrainingResult, validation_loss
from orkit.rl.rollout import record_rollout, review_window_costs, scalar_timing, subset_input

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
    its first policy for long stretches (test loss 1.09 against 1.04 with 0.1, same budget)."""
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
    actor_optimizer = adam(actor.parameters(), config.learning_rate)
    critic_optimizer = adam(critic.parameters(), config.learning_rate)
    buffer = ReplayBuffer(config.buffer_size, {"obs": (n_inputs,), "action": (m,), "reward": (), "next_obs": (n_inputs,),
                                               "done": ()}, device=device)
    generator = generator_for(config.seed)
    policy = NeuralPolicy(actor)
    timesteps, gradient_steps, pending, next_eval, history = 0, 0, 0.0, config.eval_every, []
    started, elapsed_before = time.perf_counter(), 0.0

    def elapsed() -> float:
        return elapsed_before + time.perf_counter() - started

    if resume and s.checkpoint is not None and s.checkpoint.exists():
        state = s.checkpoint.load(s.config_json)
        actor.load_state_dict(state["actor"])
        critic.load_state_dict(state["critic"])
        actor_optimizer.load_state_dict(state["actor_optimizer"])
        critic_optimizer.load_state_dict(state["critic_optimizer"])
        buffer.load_state_dict(state["buffer"])
        generator.set_state(state["generator"])
        timesteps, gradient_steps, pending, next_eval = state["timesteps"], state["gradient_steps"], state["pending"], state["next_eval"]
        history = list(state["history"])
        best_loss, best_weights = state["best_loss"], {k: v.to(device) for k, v in state["best_weights"].items()}
        elapsed_before = state["seconds"]
        actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
        actor_target.load_state_dict(state["actor_target"])
        critic_target.load_state_dict(state["critic_target"])
    else:
        warm_start_network(actor, warm_start, s, problem, config)
        actor_target, critic_target = copy.deepcopy(actor), copy.deepcopy(critic)
        best_loss = validation_loss(policy, s.validation_input, problem)
        best_weights = clone_state_dict(actor)
        history.append({"timesteps": 0, "gradient_steps": 0, "validation_loss": best_loss, "seconds": elapsed()})
    evaluations = len(history) - 1

    def save_state() -> None:
        s.checkpoint.save({
            "actor": actor.state_dict(), "critic": critic.state_dict(), "actor_target": actor_target.state_dict(),
            "critic_target": critic_target.state_dict(), "actor_optimizer": actor_optimizer.state_dict(),
            "critic_optimizer": critic_optimizer.state_dict(), "buffer": buffer.state_dict(),
            "generator": generator.get_state(), "timesteps": timesteps, "gradient_steps": gradient_steps,
            "pending": pending, "next_eval": next_eval, "history": history, "best_loss": best_loss,
            "best_weights": best_weights, "seconds": elapsed()}, s.config_json)

    def critic_input(obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return torch.cat([obs, action], 1)

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

    losses: dict[str, torch.Tensor] = {}
    manual = ManualGradients.of(actor.body, critic)
    manual_targets = ManualGradients.of(actor_target.body, critic_target)

    def target_q(next_obs: torch.Tensor) -> torch.Tensor:
        """Q'(s', mu'(s')) of the target networks, without the modules' call overhead when they are plain MLPs."""
        if manual_targets is not None:
            return manual_targets.value(next_obs)
        next_action = actor_target.body(next_obs[:, :-1])
        return critic_target(critic_input(next_obs, next_action)).squeeze(1)

    actor_params = [p for p in actor.parameters() if p.requires_grad]
    online_params = [*actor.parameters(), *critic.parameters()]
    target_params = [*actor_target.parameters(), *critic_target.parameters()]
    stop = stalled(history, config.early_stopping_steps)  # a resumed run that had stopped early
    while timesteps < config.total_timesteps and not stop:
        # ---- rollout: one batched simulation of the actor, into the replay buffer
        random_phase = timesteps < config.learning_starts
        index = torch.randint(s.train_input.n_skus, (config.num_envs,), generator=generator)
        rollout = record_rollout(step, subset_input(s.train_input, index), problem, lead_time=L)
        r = rollout.records
        rewards = -review_window_costs(rollout.ledger, rollout.periods, L, P) / r["scale"] * config.reward_scale
        n, K = rewards.shape
        next_obs = torch.cat([r["obs"][:, 1:], torch.zeros_like(r["obs"][:, :1])], 1)
        done = torch.zeros(n, K, device=device)
        done[:, -1] = 1.0
        buffer.add(obs=r["obs"].flatten(0, 1), action=r["action"].flatten(0, 1), reward=rewards.flatten(),
                   next_obs=next_obs.flatten(0, 1), done=done.flatten())
        timesteps += n * K

        # ---- learn: one gradient step per train_freq collected steps
        if timesteps >= config.learning_starts:
            pending += n * K / config.train_freq
            count = int(pending)  # gradient steps now; their minibatches in one draw
            batches = buffer.sample(config.batch_size, generator, count=count)
            for i in range(count):
                batch = {k: v[i] for k, v in batches.items()}
                with torch.no_grad():
                    next_q = target_q(batch["next_obs"])
                    target = batch["reward"] + config.gamma * (1.0 - batch["done"]) * next_q
                if manual is not None:  # ReLU networks: the same gradients without the autograd engine
                    critic_loss = manual.critic_step(batch["obs"], batch["action"], target)
                    adam_step(critic_optimizer)
                    actor_loss = manual.actor_step(batch["obs"])
                    adam_step(actor_optimizer)
                else:
                    q = critic(critic_input(batch["obs"], batch["action"])).squeeze(1)
                    critic_loss = (q - target).square().mean()
                    critic_optimizer.zero_grad()
                    critic_loss.backward()
                    critic_optimizer.step()

                    actor_loss = -critic(critic_input(batch["obs"], actor.body(batch["obs"][:, :-1]))).mean()
                    # gradients of the actor's weights only (backward still runs through the critic)
                    for p, g in zip(actor_params, torch.autograd.grad(actor_loss, actor_params, allow_unused=True)):
                        p.grad = g
                    actor_optimizer.step()

                with torch.no_grad():  # theta' <- tau theta + (1 - tau) theta', one call per network pair
                    torch._foreach_lerp_(target_params, online_params, config.tau)
                gradient_steps += 1
                losses = {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach()}
            pending -= count

        # ---- validation of the actor: keep the best weights
        if timesteps >= next_eval or timesteps >= config.total_timesteps:
            next_eval += config.eval_every * max(1, (timesteps - next_eval) // config.eval_every + 1)
            current = validation_loss(policy, s.validation_input, problem)
            if current < best_loss:
                best_loss, best_weights = current, clone_state_dict(actor)
            entry = {"timesteps": timesteps, "gradient_steps": gradient_steps, "validation_loss": current,
                     "train_return": float(rewards.sum(1).mean()), "seconds": elapsed()}
            entry.update({k: v.item() for k, v in losses.items()})
            history.append(entry)
            evaluations += 1
            if s.checkpoint is not None and (evaluations % config.checkpoint_every == 0 or timesteps >= config.total_timesteps):
                save_state()
            if callback is not None and callback(dict(entry)) is False:
                stop = True
            if stalled(history, config.early_stopping_steps):
                log.info("DDPG: no validation improvement for %d steps, stopping at step %d", config.early_stopping_steps, timesteps)
                stop = True

    actor.load_state_dict(best_weights)
    if s.checkpoint is not None:
        policy.save(s.checkpoint.directory / "policy", metadata={"learner": "ddpg", "config": json.loads(s.config_json)})
    log.info("DDPG: %d steps, %d gradient steps, best validation loss %.4f", timesteps, gradient_steps, best_loss)
    return TrainingResult(policy, history, config, best_loss, elapsed(),
                          extra={"gradient_steps": gradient_steps})


class ManualGradients:
    """DDPG's two gradient steps computed by :class:`~orkit.rl._manual.ManualMLP` (ReLU or tanh
    MLPs): the operations autograd's backward formulas use, in the same order, so the gradients
    are identical to the bit (tested), without the engine's per-node overhead that dominates
    [64, 64] networks (about half of a gradient step's time on a CPU).

    - critic: d/dtheta mean((Q(s, a) - y)^2) into the critic's ``.grad``;
    - actor: d/dphi -mean(Q(s, mu(s))) into the actor's ``.grad`` (through the critic, whose
      weights get no gradient).
    """

    def __init__(self, actor: ManualMLP, critic: ManualMLP) -> None:
        self.actor, self.critic = actor, critic
        self._inverse: dict[tuple, torch.Tensor] = {}

    def _inverse_count(self, n: int, like: torch.Tensor) -> torch.Tensor:
        """1 / n as the 0-d tensor autograd's mean backward builds (kept: the same for every step)."""
        key = (n, like.dtype, like.device)
        if key not in self._inverse:
            self._inverse[key] = torch.ones((), dtype=like.dtype, device=like.device).div(n)
        return self._inverse[key]

    @classmethod
    def of(cls, actor: nn.Module, critic: nn.Module) -> "ManualGradients | None":
        """The manual gradients when both networks are plain ReLU or tanh MLPs."""
        manual_actor, manual_critic = ManualMLP.of(actor), ManualMLP.of(critic)
        if manual_actor is None or manual_critic is None:
            return None
        return cls(manual_actor, manual_critic)

    @torch.no_grad()
    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Q(s, mu(s)) for a batch of critic states (the actor sees all but the last column)."""
        action = self.actor.forward(obs[:, :-1])[-1]
        return self.critic.forward(torch.cat([obs, action], 1))[-1].squeeze(1)

    @torch.no_grad()
    def critic_step(self, obs: torch.Tensor, action: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        values = self.critic.forward(torch.cat([obs, action], 1))
        error = values[-1].squeeze(1) - target
        n = error.shape[0]
        # mean's backward (1 / n, expanded), then square's (grad * (2 * error))
        grad = self._inverse_count(n, error).expand(n) * (2.0 * error)
        self.critic.backward(values, grad.unsqueeze(1))
        return error.square().mean()

    @torch.no_grad()
    def actor_step(self, obs: torch.Tensor) -> torch.Tensor:
        actions = self.actor.forward(obs[:, :-1])
        values = self.critic.forward(torch.cat([obs, actions[-1]], 1))
        n = obs.shape[0]
        # neg's and mean's backward: -(1 / n) for every output
        grad = self._inverse_count(n, obs).expand(n, 1).neg()
        grad = self.critic.backward(values, grad, store=False, input_grad=True)
        self.actor.backward(actions, grad[:, obs.shape[1]:])
        return -values[-1].mean()


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

"""The RL learners' fast paths compute exactly what the reference code computes (to the bit)."""

from __future__ import annotations

import copy

import pytest
import torch

from orkit.rl._training import adam, adam_step, clip_grad_norm
from orkit.rl._manual import ManualMLP
from orkit.rl.ddpg import ManualGradients
from orkit.rl.networks import mlp
from orkit.rl.ppo import ManualPPOGradients, PPOAgent, PPOConfig, ppo_loss


def _nets(activation="relu"):
    torch.manual_seed(0)
    return mlp(6, (16, 16), 2, activation), mlp(7 + 2, (16, 16), 1, activation)


def test_manual_ddpg_gradients_equal_autograd():
    actor, critic = _nets()
    manual = ManualGradients.of(actor, critic)
    assert manual is not None
    g = torch.Generator().manual_seed(1)
    obs, action, target = torch.randn(64, 7, generator=g), torch.randn(64, 2, generator=g), torch.randn(64, generator=g)

    critic_loss = manual.critic_step(obs, action, target)
    manual_critic = [p.grad.clone() for p in critic.parameters()]
    actor_loss = manual.actor_step(obs)
    manual_actor = [p.grad.clone() for p in actor.parameters()]

    reference_loss = (critic(torch.cat([obs, action], 1)).squeeze(1) - target).square().mean()
    reference_critic = torch.autograd.grad(reference_loss, list(critic.parameters()))
    reference_actor_loss = -critic(torch.cat([obs, actor(obs[:, :-1])], 1)).mean()
    reference_actor = torch.autograd.grad(reference_actor_loss, list(actor.parameters()))
    assert torch.equal(critic_loss, reference_loss.detach()) and torch.equal(actor_loss, reference_actor_loss.detach())
    assert all(torch.equal(a, b) for a, b in zip(manual_critic, reference_critic))
    assert all(torch.equal(a, b) for a, b in zip(manual_actor, reference_actor))


def test_manual_gradients_only_for_relu_and_tanh_mlps():
    assert ManualGradients.of(*_nets("elu")) is None
    assert ManualGradients.of(*_nets("tanh")) is not None and ManualGradients.of(*_nets()) is not None
    assert ManualMLP.of(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1), torch.nn.ReLU(),
                                            torch.nn.Linear(1, 1))) is None  # mixed activations


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_manual_mlp_passes_equal_autograd(activation):
    net = mlp(5, (32, 32), 3, activation)
    manual = ManualMLP.of(net)
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(3))
    upstream = torch.randn(40, 3, generator=torch.Generator().manual_seed(4))
    values = manual.forward(x)
    input_grad = manual.backward(values, upstream, input_grad=True)
    manual_grads = [p.grad for p in net.parameters()]

    leaf = x.clone().requires_grad_()
    out = net(leaf)
    reference = torch.autograd.grad(out, [leaf, *net.parameters()], upstream)
    assert torch.equal(values[-1], out.detach())
    assert torch.equal(input_grad, reference[0])
    assert all(torch.equal(a, b) for a, b in zip(manual_grads, reference[1:]))


def _ppo_case(seed, n, m, ties):
    """A PPO minibatch: the networks, a sampled action and its old log-probability, advantages, returns."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    body = mlp(6, (16, 16), m, "tanh")
    agent = PPOAgent.__new__(PPOAgent)
    torch.nn.Module.__init__(agent)
    agent.actor = torch.nn.Module()
    agent.actor.body = body
    agent.critic = mlp(7, (16, 16), 1, "tanh")
    agent.log_std = torch.nn.Parameter(torch.randn(m, generator=g) * 0.3 - 2)
    x = torch.randn(n, 7, generator=g)
    with torch.no_grad():
        mean, std = body(x[:, :6]), agent.log_std.exp()
        action = mean + std * torch.randn(n, m, generator=g)
        logprob = torch.distributions.Normal(mean, std).log_prob(action).sum(1)
    if not ties:  # ratios away from 1, some outside the clipping interval
        logprob = logprob + torch.randn(n, generator=g) * 0.4
    return agent, x, action, logprob, torch.randn(n, generator=g), torch.randn(n, generator=g)


@pytest.mark.parametrize("n, m, ties, ent_coef", [(64, 1, False, 0.0), (64, 1, True, 1e-4), (10, 5, False, 0.3),
                                                  (1, 1, False, 0.01), (33, 2, True, 0.0)])
def test_manual_ppo_gradients_equal_autograd(n, m, ties, ent_coef):
    """Every gradient of the PPO loss (policy body, value network, log_std), to the bit, including
    ratios exactly at 1 (the first epoch: maximum's ties), several outputs and one-row minibatches."""
    config = PPOConfig(ent_coef=ent_coef, clip_coef=0.2, vf_coef=0.5)
    agent, x, action, logprob, advantages, returns = _ppo_case(n + m, n, m, ties)
    manual = ManualPPOGradients.of(agent, config)
    assert manual is not None
    pg_loss, v_loss, ratio = manual.step(x[:, :6].contiguous(), x, action, logprob, advantages, returns)
    manual_grads = [p.grad.clone() for p in agent.parameters()]

    loss, ref_pg, ref_v, ref_ratio = ppo_loss(agent, config, x[:, :6].contiguous(), x, action, logprob, advantages, returns)
    reference = torch.autograd.grad(loss, list(agent.parameters()))
    assert torch.equal(pg_loss, ref_pg.detach()) and torch.equal(v_loss, ref_v.detach())
    assert torch.equal(ratio, ref_ratio.detach())
    if ties:
        assert torch.equal(ratio, torch.ones_like(ratio))
    assert all(torch.equal(a, b) for a, b in zip(manual_grads, reference))


def test_ppo_training_identical_with_manual_gradients(monkeypatch):
    """A whole PPO run (rollouts, several epochs, minibatches of unequal size, learning-rate decay)
    gives the same history and weights with the manual gradients as with autograd."""
    from orkit.core import InventoryProblem
    from orkit.data import generate
    from orkit.rl import PPOPolicy

    data = generate("deepstock-1", seed=0)
    train, validation, _ = data.splits()
    problem = InventoryProblem(**data.metadata["problem"])
    options = dict(total_timesteps=600, num_steps=150, batch_size=64, update_epochs=3, hidden_sizes=(32, 32), ent_coef=0.01)

    def run():
        policy = PPOPolicy("base", seed=3, **options).fit(train, validation, problem)
        return [{k: v for k, v in e.items() if k != "seconds"} for e in policy.history_], policy.policy_.network.state_dict()

    manual_history, manual_weights = run()
    monkeypatch.setattr(ManualPPOGradients, "of", classmethod(lambda cls, *args: None))
    reference_history, reference_weights = run()
    assert len(manual_history) == 4 and manual_history == reference_history  # 3 updates of 154 steps (64 + 64 + 26)
    assert all(torch.equal(manual_weights[k], reference_weights[k]) for k in reference_weights)


@pytest.mark.parametrize("lr_schedule", [False, True])
def test_adam_step_equals_optimizer_step(lr_schedule):
    net = mlp(5, (8,), 1, "relu")
    twin = copy.deepcopy(net)
    a, b = adam(net.parameters(), 1e-2, eps=1e-5), adam(twin.parameters(), 1e-2, eps=1e-5)
    g = torch.Generator().manual_seed(2)
    for step in range(5):
        x = torch.randn(32, 5, generator=g)
        for model, optimizer, fast in ((net, a, True), (twin, b, False)):
            if lr_schedule:
                optimizer.param_groups[0]["lr"] = 1e-2 * (1 - step / 5)
            optimizer.zero_grad()
            model(x).square().mean().backward()
            clip_grad_norm(list(model.parameters()), 0.1) if fast else torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            adam_step(optimizer) if fast else optimizer.step()
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), twin.parameters()))
    assert all(torch.equal(a.state[p]["exp_avg_sq"], b.state[q]["exp_avg_sq"]) and
               torch.equal(a.state[p]["step"], b.state[q]["step"]) for p, q in zip(net.parameters(), twin.parameters()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_manual_ppo_gradients_on_cuda_match_autograd():
    """On a GPU the manual path runs on the data's device and agrees with autograd (to rounding:
    bit-identity is only claimed on CPU)."""
    config = PPOConfig(ent_coef=1e-4)
    agent, x, action, logprob, advantages, returns = _ppo_case(7, 64, 1, False)
    agent = agent.cuda()
    x, action, logprob, advantages, returns = (t.cuda() for t in (x, action, logprob, advantages, returns))
    manual = ManualPPOGradients.of(agent, config)
    manual.step(x[:, :6].contiguous(), x, action, logprob, advantages, returns)
    manual_grads = [p.grad.clone() for p in agent.parameters()]
    loss = ppo_loss(agent, config, x[:, :6].contiguous(), x, action, logprob, advantages, returns)[0]
    reference = torch.autograd.grad(loss, list(agent.parameters()))
    assert all(g.device.type == "cuda" for g in manual_grads)
    for a, b in zip(manual_grads, reference):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)

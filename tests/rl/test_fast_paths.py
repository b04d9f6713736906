"""The RL learners' fast paths compute exactly what the reference code computes (to the bit)."""

from __future__ import annotations

import copy

import pytest
import torch

from orkit.rl._training import adam, adam_step, clip_grad_norm
from orkit.rl.ddpg import ManualGradients
from orkit.rl.networks import mlp


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


def test_manual_gradients_only_for_relu_mlps():
    actor, critic = _nets("tanh")
    assert ManualGradients.of(actor, critic) is None
    assert ManualGradients.of(*_nets()) is not None


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

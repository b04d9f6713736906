"""Forward and backward passes of plain MLPs without the autograd engine, to the bit.

The learners' networks are small (PPO [256, 256], DDPG [64, 64]); on a CPU the autograd
engine's per-node work is a large share of a gradient step (about half of DDPG's, a sixth of
PPO's with its loss's small operations). :class:`ManualMLP` runs
``Linear -> activation -> ... -> Linear`` (:func:`orkit.rl.networks.mlp` with ReLU or tanh)
with the operations autograd's backward formulas use, in the same order, so the gradients are
identical to autograd's (tested in ``tests/rl/test_fast_paths.py``):

- ``nn.Linear`` on a matrix is ``addmm(b, x, W^T)``; its backward is ``g W`` for the input,
  ``(x^T g)^T`` for the weight (computed as ``g^T x``: the same products summed in the same
  order, and contiguous without a copy; tested) and ``sum(g, 0)`` for the bias;
- ReLU's backward is ``threshold_backward(g, y, 0)``, tanh's ``tanh_backward(g, y)`` (both
  from the layer's output ``y``, so the activation runs in place);
- a layer with one output propagates ``g W`` as the broadcast product ``g * W`` (each entry
  a single product either way).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["ManualMLP"]

_BACKWARD: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    nn.ReLU: lambda grad, out: torch.ops.aten.threshold_backward(grad, out, 0),
    nn.Tanh: lambda grad, out: torch.ops.aten.tanh_backward(grad, out),
}
# in place: the pre-activation is not needed by either backward (saves an allocation and a copy per layer)
_FORWARD: dict[type, Callable[[torch.Tensor], torch.Tensor]] = {nn.ReLU: torch.relu_, nn.Tanh: torch.tanh_}


class ManualMLP:
    """A ``Linear -> activation -> ... -> Linear`` network's passes without autograd.

    Build it with :meth:`of`, which returns ``None`` for any other network (the caller then
    uses autograd). ``forward`` returns every layer's input and the output; ``backward`` takes
    those and the gradient of the output.
    """

    def __init__(self, linears: list[nn.Linear], activation: type) -> None:
        self.linears = linears
        self._act = _FORWARD[activation]
        self._act_backward = _BACKWARD[activation]

    @classmethod
    def of(cls, net: nn.Module) -> "ManualMLP | None":
        """The manual passes of ``net`` when it is an MLP with one supported activation."""
        if not isinstance(net, nn.Sequential) or len(net) % 2 == 0:
            return None
        activations = {type(layer) for layer in list(net)[1::2]}
        if len(activations) > 1 or not all(isinstance(layer, nn.Linear) for layer in list(net)[::2]):
            return None
        activation = activations.pop() if activations else nn.ReLU
        if activation not in _FORWARD:
            return None
        return cls(list(net)[::2], activation)

    @property
    def parameters(self) -> list[torch.Tensor]:
        return [p for layer in self.linears for p in (layer.weight, layer.bias)]

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every linear layer's input, then the output (what the ``nn.Sequential`` computes)."""
        out = [x]
        for i, layer in enumerate(self.linears):
            x = torch.addmm(layer.bias, x, layer.weight.t())
            if i < len(self.linears) - 1:
                x = self._act(x)
            out.append(x)
        return out

    @torch.no_grad()
    def backward(self, values: list[torch.Tensor], grad: torch.Tensor, *, store: bool = True,
                 input_grad: bool = False) -> torch.Tensor | None:
        """Back-propagate ``grad`` (of the output, shape (n, outputs)); with ``store``, set each
        layer's ``.grad``; with ``input_grad``, return the gradient of the input."""
        layers = self.linears
        for i in reversed(range(len(layers))):
            layer = layers[i]
            if i < len(layers) - 1:
                grad = self._act_backward(grad, values[i + 1])
            if store:
                layer.weight.grad = grad.t().mm(values[i])  # (x^T g)^T: the same products and sums (tested)
                layer.bias.grad = grad.sum(0)
            if i > 0 or input_grad:
                # one output (critics, one-order actors): the product is an outer product, which the
                # matrix routine computes an order of magnitude slower than a broadcast multiply;
                # a sum of one term, so the same numbers
                grad = grad * layer.weight if grad.shape[1] == 1 else grad.mm(layer.weight)
        return grad if input_grad else None

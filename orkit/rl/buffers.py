"""A replay buffer as a tensor ring: preallocated on the training device, batched insert and sample."""

from __future__ import annotations

import math
from typing import Any

import torch

from orkit.core.errors import ValidationError

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Fixed-capacity ring of transitions; the oldest are overwritten first.

    A transition's fields sit side by side in one row of a ``(capacity, width)`` tensor, so
    drawing a minibatch gathers one row per transition (one memory access pattern instead of
    one per field: the draw from a buffer larger than the cache is bound by memory latency).
    ``storage[name]`` is the field's view into those rows.

    Parameters
    ----------
    capacity : int
        Transitions kept [buffer size].
    shapes : dict of str -> tuple
        Per-transition shape of each field, e.g. ``{"obs": (9,), "reward": ()}``.
    device, dtype : optional

    Examples
    --------
    >>> import torch
    >>> buffer = ReplayBuffer(3, {"x": (2,), "r": ()})
    >>> buffer.add(x=torch.ones(4, 2), r=torch.arange(4.0))   # 4 > 3: the first is overwritten
    >>> len(buffer), sorted(buffer.storage["r"].tolist())
    (3, [1.0, 2.0, 3.0])
    """

    def __init__(self, capacity: int, shapes: dict[str, tuple[int, ...]], *, device: Any = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        if capacity < 1:
            raise ValidationError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.shapes = {k: tuple(int(n) for n in shape) for k, shape in shapes.items()}
        self._columns: dict[str, tuple[int, int]] = {}
        width = 0
        for k, shape in self.shapes.items():
            self._columns[k] = (width, width + math.prod(shape))
            width += math.prod(shape)
        self._rows = torch.zeros((self.capacity, width), dtype=dtype, device=device)
        self.storage = self._fields(self._rows)
        self.position = 0  # next slot to write
        self.size = 0

    def _fields(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each field's view into ``rows`` (any leading dimensions, transitions in the last)."""
        lead = rows.shape[:-1]
        return {k: rows[..., a:b].view(*lead, *self.shapes[k]) for k, (a, b) in self._columns.items()}

    def __len__(self) -> int:
        return self.size

    def add(self, **batch: torch.Tensor) -> None:
        """Insert a batch of transitions (every field with the same leading size)."""
        if set(batch) != set(self.storage):
            raise ValidationError(f"add needs the fields {sorted(self.storage)}, got {sorted(batch)}")
        n = next(iter(batch.values())).shape[0]
        if n > self.capacity:  # only the newest `capacity` survive
            batch = {k: v[-self.capacity:] for k, v in batch.items()}
            self.position = (self.position + n - self.capacity) % self.capacity
            n = self.capacity
        index = ((self.position + torch.arange(n)) % self.capacity).to(self._rows.device)
        for k, v in batch.items():
            store = self.storage[k]
            store[index] = v.to(device=store.device, dtype=store.dtype)
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator, count: int | None = None) -> dict[str, torch.Tensor]:
        """``batch_size`` transitions drawn uniformly with replacement (CPU ``generator``).

        With ``count``, ``count`` such minibatches in one draw (fields with leading dimensions
        ``(count, batch_size)``): the same random numbers, in the same order, as ``count``
        calls, and one gather instead of ``count``.
        """
        if self.size == 0:
            raise ValidationError("cannot sample from an empty replay buffer")
        if batch_size < 1 or (count is not None and count < 0):
            raise ValidationError(f"batch_size must be >= 1 and count >= 0, got batch_size={batch_size}, count={count}")
        n = batch_size if count is None else count * batch_size
        index = torch.randint(self.size, (n,), generator=generator)
        rows = self._rows.index_select(0, index.to(self._rows.device))
        if count is not None:
            rows = rows.view(count, batch_size, self._rows.shape[1])
        return self._fields(rows)

    def state_dict(self) -> dict[str, Any]:
        return {"storage": {k: v[: self.size].clone() if self.size < self.capacity else v.clone() for k, v in self.storage.items()},
                "position": self.position, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.position, self.size = int(state["position"]), int(state["size"])
        for k, v in state["storage"].items():
            self.storage[k][: v.shape[0]] = v.to(self.storage[k].device)

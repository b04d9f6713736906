"""A stop request inside a shielded block waits for the block's end (orkit.core.interrupts)."""

import os
import signal

import pytest

from orkit.core.interrupts import interrupt, shielded


def test_interrupt_outside_a_shielded_block_raises_at_once():
    with pytest.raises(KeyboardInterrupt):
        interrupt()


def test_a_stop_request_inside_a_shielded_block_is_raised_as_the_outermost_block_ends():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with shielded():
            with shielded():
                interrupt()
                done.append("inner")
            done.append("outer")  # the inner block's end does not raise: the outer one is running
    assert done == ["inner", "outer"]
    with shielded():  # the request was consumed: a later block runs and ends quietly
        done.append("later")
    assert done[-1] == "later"


def test_a_signal_handler_that_interrupts_waits_for_the_block(monkeypatch):
    """The worker's SIGTERM handler calls interrupt(): a failed trial is recorded and logged
    before the worker stops."""
    steps = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: interrupt())
    try:
        with pytest.raises(KeyboardInterrupt):
            with shielded():
                steps.append("recorded")
                os.kill(os.getpid(), signal.SIGUSR1)
                steps.append("logged")
        assert steps == ["recorded", "logged"]
    finally:
        signal.signal(signal.SIGUSR1, previous)

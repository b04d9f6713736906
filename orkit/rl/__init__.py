"""orkit.rl."""

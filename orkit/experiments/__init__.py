"""orkit.experiments."""

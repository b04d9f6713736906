"""orkit.twostage."""

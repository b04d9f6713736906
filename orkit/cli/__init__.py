"""The ``orkit`` command line (composition root)."""

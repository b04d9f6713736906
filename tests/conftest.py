"""Settings every test shares.

**Compiled kernels per CPU capability.** torch.compile (inductor) caches its generated C++ and a
precompiled header under one folder per user, whatever kernels ATen was told to use: a header
built under ``ATEN_CPU_CAPABILITY=avx512`` and reused under ``=default`` or ``=avx2`` fails to
compile ("'at::vec' has not been declared"), so the compiled-path tests failed on the second
setting run on one machine. Each capability gets its own cache folder here (unless the caller
chose one), so the suite passes under every setting, in any order.
"""

from __future__ import annotations

import getpass
import os
import tempfile

import torch

if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(
        tempfile.gettempdir(), f"torchinductor_{getpass.getuser()}", f"orkit-{torch.backends.cpu.get_cpu_capability()}"
    )

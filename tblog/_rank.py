"""Which process of a distributed job this is, found without importing any framework.

``detect_rank()`` asks, in this order, and takes the first answer:

1. ``torch.distributed``, if the program imported it and ``init_process_group`` has run:
   ``get_rank()``.
2. JAX, if the program imported it and its runtime spans several processes
   (``jax.distributed.initialize()`` has run, or the backends are up, as on a TPU pod):
   ``jax.process_index()``. It is never called earlier: the first call starts JAX's
   backends, after which ``jax.distributed.initialize()`` refuses to run.
3. The environment variable ``RANK``, as ``torchrun`` (and Accelerate, DeepSpeed and
   Lightning's launchers) set it; so a writer made before ``init_process_group`` already
   knows its rank.
4. Otherwise 0: a single process.

``SLURM_PROCID``, ``OMPI_COMM_WORLD_RANK`` and ``PMI_RANK`` are left out on purpose:
``srun -n 4`` (and MPI launchers) also start independent tasks, such as the trials of a
sweep, and reading those variables would silence every task but the first. Such jobs reach
step 1 or 2 once the framework is initialized, or pass ``rank=`` to the writer.
"""

from __future__ import annotations

import operator
import os
import sys
from typing import Any

__all__ = ["check_rank", "detect_rank"]

RANK_ENV = "RANK"


def detect_rank() -> int:
    """This process's global rank (see the module doc); 0 outside a distributed job."""
    for ask in (_torch_rank, _jax_rank, _env_rank):
        rank = ask()
        if rank is not None:
            return rank
    return 0


def check_rank(value: Any, name: str = "rank") -> int:
    """``value`` as a rank: an int >= 0 (bools refused); a clear error otherwise."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= 0 or None; got bool {value!r}")
    try:
        rank = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int >= 0 or None; got {type(value).__name__} {value!r}") from None
    if rank < 0:
        raise ValueError(f"{name} must be an int >= 0 or None; got {rank}")
    return rank


def _torch_rank() -> int | None:
    dist = sys.modules.get("torch.distributed")
    if dist is None:
        return None
    is_available = getattr(dist, "is_available", None)
    if callable(is_available) and not is_available():
        return None
    if not dist.is_initialized():
        return None
    return int(dist.get_rank())


def _jax_rank() -> int | None:
    jax = sys.modules.get("jax")
    if jax is None or not _jax_runtime_started():
        return None
    if jax.process_count() <= 1:
        return None  # one JAX process: its index (0) says nothing about the job
    return int(jax.process_index())


def _jax_runtime_started() -> bool:
    """True once asking JAX for the process index can no longer change what JAX does.

    Public ``jax.distributed.is_initialized()`` where it exists, else the private state it
    reads; then the private ``backends_are_initialized()``. A private name that moved counts
    as "not started": the rank then comes from the environment, and JAX is left untouched.
    """
    distributed = getattr(sys.modules.get("jax"), "distributed", None)
    is_initialized = getattr(distributed, "is_initialized", None)
    try:
        if callable(is_initialized):
            if is_initialized():
                return True
        else:
            state = getattr(sys.modules.get("jax._src.distributed"), "global_state", None)
            if getattr(state, "client", None) is not None:
                return True
        bridge = sys.modules.get("jax._src.xla_bridge")
        backends_up = getattr(bridge, "backends_are_initialized", None)
        return callable(backends_up) and bool(backends_up())
    except Exception:  # a private API that changed shape: leave JAX alone
        return False


def _env_rank() -> int | None:
    text = os.environ.get(RANK_ENV, "").strip()
    if not text:
        return None
    try:
        rank = int(text)
    except ValueError:
        rank = -1
    if rank < 0:
        raise ValueError(
            f"the environment variable {RANK_ENV} must be an int >= 0 (the global rank, as torchrun "
            f"sets it); got {text!r}. Pass rank= to SummaryWriter to set the rank yourself"
        )
    return rank

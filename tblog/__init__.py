"""tblog: write TensorBoard event files from any training loop, with no TensorFlow.

``tblog.SummaryWriter`` is a drop-in for ``torch.utils.tensorboard.SummaryWriter``;
``tblog.read`` reads event files back. ``import tblog`` imports no ML framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tblog._patch import patch
from tblog.events import sigterm
from tblog.events.async_writer import BackgroundWriteError, flush_on_signals
from tblog.writer import SummaryWriter

if TYPE_CHECKING:
    from tblog import read

__version__ = "0.1.0"
__all__ = ["BackgroundWriteError", "SummaryWriter", "__version__", "flush_on_signals", "patch", "read"]

# SIGTERM and SIGHUP flush every writer, also those that open on other threads: only the main
# thread may install the handlers, and ``import tblog`` nearly always runs there.
sigterm.install_handlers(claim_wakeup_fd=False)


def __getattr__(name: str) -> Any:
    # ``tblog.read`` needs protobuf; load it on first use so ``import tblog`` stays light.
    if name == "read":
        import importlib

        return importlib.import_module("tblog.read")
    raise AttributeError(f"module 'tblog' has no attribute {name!r}")

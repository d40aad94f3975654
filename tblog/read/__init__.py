"""Reading event files back: the events of a file or log directory, and tidy tables of its
scalars, histograms, texts, images and hparams (``scalars``, ``histograms``, ``texts``,
``images`` + ``decode_image``, ``hparams``), filtered by run, tag and step.

Reads what tblog, torch.utils.tensorboard, tensorboardX and tf.summary write. CRCs are
checked; a truncated last record is skipped; a corrupted one is reported (see
``tblog.events.record.read_records``), and so is, the same way, anything below the log
directory that cannot be read: a FIFO, socket or device named like an event file (never
opened: that could block), a directory or file without read permission.

    >>> table = tblog.read.scalars("runs")          # pandas DataFrame if pandas is installed
    >>> losses = tblog.read.scalars("runs", runs="exp*", tags="*/loss", steps=(0, 1000))
    >>> for event in tblog.read.events("runs/exp1"):
    ...     print(event.step, event.WhichOneof("what"))
"""

from __future__ import annotations

from tblog.events.record import CorruptRecordWarning
from tblog.read.files import event_files, runs
from tblog.read.records import events, read_events
from tblog.read.tables import decode_image, histograms, hparams, images, scalars, texts
from tblog.read.tensors import tensor_to_numpy

__all__ = [
    "CorruptRecordWarning",
    "decode_image",
    "event_files",
    "events",
    "histograms",
    "hparams",
    "images",
    "read_events",
    "runs",
    "scalars",
    "tensor_to_numpy",
    "texts",
]

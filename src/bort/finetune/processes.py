"""Fine-tuning on one process or several (``accelerate launch`` / ``torchrun``), as ``bort pretrain`` does.

``--batch-size`` is the global batch: each process trains on its contiguous share of every batch, and
its mean loss is scaled by its share of the batch times the process count, so that DDP's average of
the processes' gradients is the gradient of the global batch's mean loss (the last, shorter batch of
an epoch included). Everything written — the run directory, the teacher-labelled copies, the teacher's
cache, checkpoints, the best model, metrics — is written by the main process; the others wait for it
and read the copies and the cache it made (each process then holds them in memory). Every process
scores dev itself on the same weights, so their early-stopping decisions agree without a message.
"""

from __future__ import annotations

import contextlib
import os
from datetime import timedelta

import torch

from bort.errors import BortError


# How long a process may wait at a barrier: while the main process alone labels inputs with the teacher (its
# cache, Agora's Socrates) or scores H, the others wait, longer than the process group's default 30 minutes allows.
BARRIER_TIMEOUT = timedelta(hours=6)


def launched_processes() -> int:
    """How many processes torchrun / accelerate launch started for this run (1 when run directly)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Whether this is the process that writes (rank 0 of a launch, or the only one), before any
    :class:`Processes` exists."""
    return int(os.environ.get("RANK", "0")) == 0


class Processes:
    """This process's place among the fine-tuning processes: one, unless launched by torchrun / accelerate."""

    def __init__(self, batch_size: int):
        self.world = launched_processes()
        self.accelerator = None
        self.rank = 0
        if self.world > 1:
            from accelerate import Accelerator
            from accelerate.utils import InitProcessGroupKwargs

            # cpu=True where there is no GPU: Accelerate then runs the processes on gloo (MULTI_CPU).
            self.accelerator = Accelerator(cpu=not torch.cuda.is_available(),
                                           kwargs_handlers=[InitProcessGroupKwargs(timeout=BARRIER_TIMEOUT)])
            self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
            if batch_size % self.world:
                raise BortError(f"--batch-size {batch_size} (the global batch) must be divisible by the "
                                f"{self.world} processes")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wait(self) -> None:
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()

    def main_first(self):
        """The main process runs the block first (and writes what it makes); the others then run it."""
        return self.accelerator.main_process_first() if self.accelerator is not None else contextlib.nullcontext()

    def prepare(self, model, optimizer):
        """(the model to train through, the optimizer): DDP-wrapped on several processes, as they are on one."""
        if self.accelerator is None:
            return model, optimizer
        return self.accelerator.prepare(model, optimizer)

    def share(self, rows: list[int]) -> tuple[list[int], float]:
        """This process's rows of a global batch, and the factor that scales its mean loss (see the module)."""
        if self.world == 1:
            return rows, 1.0
        mine = rows[self.rank * len(rows) // self.world:(self.rank + 1) * len(rows) // self.world]
        if not mine:  # a last batch shorter than the process count: a forward that adds nothing, for DDP's sync
            return rows[:1], 0.0
        return mine, len(mine) / len(rows) * self.world

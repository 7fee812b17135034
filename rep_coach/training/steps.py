"""One optimisation step, the same for every model trained here."""

from typing import Any

import torch


def apply_step(model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any,
               loss: torch.Tensor, bar: Any) -> None:
    """Back-propagate ``loss`` with gradient clipping at 1, step, and show it on ``bar``."""
    opt.zero_grad()
    loss.backward()
    # Clipping keeps the recurrent and dilated models stable on the small real-data batches.
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    bar.set_postfix(loss=f'{loss.item():.3f}')

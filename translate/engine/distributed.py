"""Data-parallel training across processes started by ``torchrun``: process group, devices, gradient averaging.

Why an explicit all-reduce instead of ``DistributedDataParallel``: one CUT step calls G three times (the
shared forward, then ``G.encode`` on fake_b and idt_b for the NCE queries), D on fake and real images in
two phases, and toggles ``requires_grad`` per phase. DDP hooks into ``forward`` only, expects every
parameter of the wrapped module to get a gradient in every backward (else ``find_unused_parameters`` and
its extra graph walk), and misfires when a module's forward runs several times before one backward.
Averaging each phase's gradients right before its optimiser step is exactly data-parallel SGD: with equal
per-rank batches, the mean of the per-rank gradients is the gradient of the mean loss over the global
batch (every loss here is a mean over images, and no layer mixes images: instance norm, per-image NCE
negatives). The price is no overlap of communication with the backward pass, which matters little at
these model sizes (11 M parameters for CUT's G) next to the convolutions at 256x256.

All ranks start from the same seed, so the initial weights and every random draw of a step (patch ids
of F, FastCUT's flip) agree across ranks without broadcasting; ``check_in_sync`` verifies it once.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from translate.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0  # global rank of this process (0 writes logs, samples and checkpoints)
    world_size: int = 1  # number of processes (1 = not distributed)
    local_rank: int = 0  # rank on this machine: the GPU index this process uses

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def env_info() -> DistInfo:
    """Rank, world size and local rank from the variables torchrun sets (single process without them)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return DistInfo(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def pick_backend(backend: str, device: torch.device) -> str:
    """``auto`` is nccl for CUDA devices and gloo otherwise; nccl on a CPU device is a config error."""
    if backend == "auto":
        return "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl" and device.type != "cuda":
        raise ConfigError(f"train.dist_backend=nccl needs CUDA devices but the device is {device}; "
                          "use train.dist_backend=gloo (or auto) on CPU")
    return backend


def local_device(device: torch.device, info: DistInfo) -> torch.device:
    """The device of this rank: ``cuda:LOCAL_RANK`` when training on CUDA, else ``device`` unchanged."""
    if device.type != "cuda" or not info.enabled:
        return device
    if device.index is not None:
        raise ConfigError(f"train.device={device}: under torchrun each process takes the GPU of its LOCAL_RANK; "
                          "use train.device=cuda or auto")
    if info.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"LOCAL_RANK {info.local_rank} but only {torch.cuda.device_count()} GPUs are visible; "
                          "start at most that many processes per node (--nproc_per_node)")
    torch.cuda.set_device(info.local_rank)  # so that torch.device("cuda") means this rank's GPU
    return torch.device("cuda", info.local_rank)


def init_process_group(backend: str, device: torch.device, info: DistInfo) -> None:
    """Join the group described by torchrun's MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE variables."""
    if not info.enabled or dist.is_initialized():
        return
    backend = pick_backend(backend, device)
    kwargs = {"device_id": device} if backend == "nccl" else {}
    dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size, **kwargs)
    log.info("distributed: %d processes, backend %s", info.world_size, backend)


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def broadcast_object(obj, src: int = 0):
    """``obj`` of rank ``src`` on every rank (e.g. the run folder that rank 0 chose)."""
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


@torch.no_grad()
def average_gradients(params, world_size: int) -> None:
    """Replace each parameter's gradient by its mean over ranks, in one flat all-reduce.

    Parameters without a gradient are skipped; they are the same on every rank because the ranks run the
    same graph. Scaled fp16 gradients may be averaged before unscaling: scaling is linear, and an inf on
    any rank becomes inf everywhere, so every rank's GradScaler skips the same steps.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if world_size <= 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])  # (total,) one message instead of one per tensor
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(world_size)
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def average_logs(logs: dict[str, float], device: torch.device) -> dict[str, float]:
    """Per-rank loss values -> their mean over ranks (the loss of the global batch), for rank 0's log."""
    if not dist.is_initialized() or not logs:
        return logs
    keys = sorted(logs)  # same order on every rank
    values = torch.tensor([float(logs[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    values /= dist.get_world_size()
    return dict(zip(keys, values.tolist()))


@torch.no_grad()
def check_in_sync(modules, device: torch.device, atol: float = 0.0) -> None:
    """Raise if the ranks' initial weights differ (they must: same seed, same construction order)."""
    if not dist.is_initialized():
        return
    flat = torch.cat([p.detach().reshape(-1).double() for m in modules for p in m.parameters()]).to(device)
    lo, hi = flat.clone(), flat.clone()
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    spread = float((hi - lo).abs().max()) if flat.numel() else 0.0
    if spread > atol:
        raise RuntimeError(f"ranks start from different weights (max difference {spread:g}); every rank must "
                           "use the same train.seed and config")

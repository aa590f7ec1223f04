"""The training loop: one readable function, ``fit``, from first epoch to best checkpoint.

A *task* (link prediction, entity typing) supplies the batches, the loss and the evaluation; the
engine owns everything else: device (``"auto"``: CUDA when present), bf16 autocast of the
training steps on CUDA (validation runs in full precision, as ``TrainedModel.evaluate`` does),
gradient clipping, early stopping on the task's validation metric, a progress bar, seeds,
atomic checkpoints (safetensors + JSON) and ``resume``.

Determinism: every epoch reseeds torch's global generator from ``(seed, epoch)`` and the task
draws its shuffles and negatives from a generator seeded the same way, so a run resumed from
the checkpoint of epoch ``e`` replays epochs ``e+1, ...`` exactly as an uninterrupted run
would (bit for bit on CPU).
"""

from __future__ import annotations

import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor, nn

from kgtransfer.config import ConfigError, TrainConfig
from kgtransfer.device import resolve_device
from kgtransfer.errors import CheckpointError, TrainingDivergedError, once_per_run
from kgtransfer.files import save_json
from kgtransfer.interleave import job_name, pause, paused_seconds
from kgtransfer.optimizers import sparse_rows_of
from kgtransfer.registry import OPTIMIZERS
from kgtransfer.rng import epoch_generator, keeps_rng_states, keeps_threads, seed_everything

__all__ = ["OPTIMIZERS", "FitResult", "History", "Task", "TrainConfig", "fit", "save_json"]


#: an epoch that trained this long is followed by a ``last`` checkpoint even when it is not evaluated
CHECKPOINT_SECONDS = 60.0


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer registered as ``config.optimizer`` over ``params`` (parameters or parameter groups)."""
    return OPTIMIZERS[config.optimizer](params, lr=config.lr, weight_decay=config.weight_decay)


def sparse_rows(model: nn.Module, task, optimizer: torch.optim.Optimizer, world: World | None = None) -> list:
    r"""Switch the entity tables to row-sparse gradients where that is safe; the switched embeddings.

    Safe when the task looks rows up per step (``task.sparse_rows``, neighbour-sampled steps), the
    optimizer updates sparse gradients lazily (``optimizer.lazy_rows``, the registered ``adam`` and
    ``adamw``: :mod:`kgtransfer.optimizers`) and no ``torch.distributed`` job averages the gradients
    (that path stays dense). Then zeroing, clipping and the update of a step cost
    :math:`O(\text{rows looked up})`, not :math:`O(\text{entities})`. Undo with :func:`dense_rows`.
    """
    if not getattr(task, "sparse_rows", False) or not getattr(optimizer, "lazy_rows", False) or world is not None:
        return []
    owned = {id(p) for group in optimizer.param_groups for p in group["params"]}
    kinds = model.row_parameters() if hasattr(model, "row_parameters") else {}
    modules = dict(model.named_modules())
    switched = []
    for name, kind in kinds.items():
        module = modules.get(name.removesuffix(".weight"))
        if kind == "entity" and isinstance(module, nn.Embedding) and not module.sparse and id(module.weight) in owned:
            module.sparse = True
            switched.append(module)
    return switched


def dense_rows(switched: list) -> None:
    """Undo :func:`sparse_rows`."""
    for module in switched:
        module.sparse = False


def clip_gradients(parameters, max_norm: float) -> Tensor:
    """:func:`torch.nn.utils.clip_grad_norm_` (L2), also over sparse gradients (the norm of their summed rows).

    A sparse gradient whose rows are unique (the lookup of a sampled subgraph's nodes) is used as it
    is, scaled in place; only one with repeated rows is coalesced first (:func:`~kgtransfer.optimizers.sparse_rows_of`).
    """
    params = [p for p in parameters if p.grad is not None]
    if not any(p.grad.is_sparse for p in params):
        return nn.utils.clip_grad_norm_(params, max_norm)
    norms = []
    for p in params:
        if p.grad.is_sparse:
            rows, values, order = sparse_rows_of(p.grad)
            if order is None and not p.grad.is_coalesced():
                p.grad = torch.sparse_coo_tensor(  # unique rows, from the gradient itself: nothing to check
                    rows.unsqueeze(0), values, p.grad.shape, is_coalesced=True, check_invariants=False
                )
        norms.append(p.grad._values().norm() if p.grad.is_sparse else p.grad.norm())
    total = torch.stack([n.float() for n in norms]).norm()
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for p in params:
        (p.grad._values() if p.grad.is_sparse else p.grad).mul_(scale.to(p.grad.device, p.grad.dtype))
    return total


class Task(Protocol):
    """What the engine needs from a task."""

    metric: str  # the validation metric to maximize, e.g. "mrr" or "accuracy"

    def to(self, device: torch.device) -> Task:
        """The task with its tensors on ``device``."""

    def batches(self, epoch: int, batch_size: int, generator: torch.Generator) -> Iterator:
        """One epoch of training batches, shuffled by ``generator``."""

    def loss(self, model: nn.Module, batch) -> Tensor:
        """The training loss of one batch."""

    def evaluate(self, model: nn.Module, split: str) -> dict[str, float]:
        """Metrics on ``"valid"`` or ``"test"``."""

    def size(self) -> int:
        """A measure of work per step (picks the default thread count)."""


@dataclass
class History:
    """Per-epoch losses and per-evaluation metrics: the learning curve."""

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # training wall seconds per epoch, less interleaved waits
    evals: list[dict] = field(default_factory=list)  # {"epoch": e, "mrr": ..., ...}
    marks: dict[str, int] = field(default_factory=dict)  # {"probe ends": epoch} for LP-FT plots
    elapsed: float = 0.0  # wall seconds of the run up to its latest checkpoint (what a resumed run adds to)

    def __repr__(self) -> str:
        marks = f", marks={self.marks}" if self.marks else ""
        return f"History(epochs={len(self.loss)}, evaluations={len(self.evals)}{marks})"

    def to_csv(self) -> str:
        """One row per epoch: epoch, loss, seconds, and the validation metrics where evaluated."""
        keys = sorted({k for e in self.evals for k in e if k != "epoch"})
        by_epoch = {e["epoch"]: e for e in self.evals}
        lines = [",".join(["epoch", "loss", "seconds", *keys])]
        for i, (loss, sec) in enumerate(zip(self.loss, self.seconds, strict=True), 1):
            ev = by_epoch.get(i, {})
            lines.append(",".join([str(i), f"{loss:.6g}", f"{sec:.4g}", *[_fmt(ev.get(k)) for k in keys]]))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_csv(cls, text: str, marks: dict[str, int] | None = None) -> History:
        """The history :meth:`to_csv` wrote (its ``marks`` are saved beside it, in ``metrics.json``).

        Raises:
            ValueError: ``text`` is not such a table.
        """
        header, *rows = [line.split(",") for line in text.splitlines() if line]
        if header[:3] != ["epoch", "loss", "seconds"]:
            raise ValueError(f"not a learning curve: its columns are {header}")
        history = cls(marks=dict(marks or {}))
        for row in rows:
            epoch, loss, seconds, *values = row
            history.loss.append(float(loss))
            history.seconds.append(float(seconds))
            found = {k: float(v) for k, v in zip(header[3:], values, strict=True) if v}
            if found:
                history.evals.append({"epoch": int(epoch), **found})
        return history


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6g}"


def choose_threads(work_size: int, requested: int | None) -> int:
    """Intra-op threads: as requested, else 1 for small problems (measured 30-60x faster), else torch's default.

    Torch's default honours ``OMP_NUM_THREADS`` and the CPUs the process may run on (a container's
    limit), which ``os.cpu_count()`` does not.
    """
    if requested is not None:
        return max(1, requested)
    return 1 if work_size < 2_000_000 else default_threads()


def default_threads() -> int:
    """The intra-op threads torch would take: ``OMP_NUM_THREADS`` when set, else the CPUs this process may use."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


@dataclass
class FitResult:
    """What ``fit`` returns: the best validation metrics, when they were reached, the history."""

    best: dict[str, float]
    best_epoch: int
    epochs_run: int
    history: History
    stopped_early: bool
    seconds: float  # wall seconds of the whole fit (evaluation included), less interleaved waits
    threads: int | None = None  # the intra-op threads it trained with (results are bitwise the same for one count)
    device: str | None = None  # the device it trained on ("cpu", "cuda:0")
    environment: dict | None = None  # a loaded run's saved record of what it ran on (None: this session)

    def __repr__(self) -> str:
        best = ", ".join(f"{k}={v:.4f}" for k, v in self.best.items() if isinstance(v, float))
        return (
            f"FitResult(best_epoch={self.best_epoch}, epochs_run={self.epochs_run}, "
            f"stopped_early={self.stopped_early}, best={{{best}}}, seconds={self.seconds:.2f})"
        )


def _history(fields: dict, ckpt: Path) -> History:
    try:
        return History(**fields)
    except TypeError as e:
        raise CheckpointError(f"{ckpt / 'last' / 'meta.json'}: malformed history ({e})") from None


@keeps_threads  # fit sets the process-wide thread count and seeds: the caller gets its own back
@keeps_rng_states
def fit(
    model: nn.Module,
    task: Task,
    config: TrainConfig,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    state: Callable[[], dict] | None = None,
    on_epoch_end: Callable[[int, nn.Module], None] | None = None,
) -> FitResult:
    """Train ``model`` on ``task``; keep the weights of the best validation epoch.

    The process-wide torch thread count and the global RNG states (Python, numpy, torch) that
    training sets are restored on return.

    Args:
        model: the model; its parameters are trained in place and end at the best epoch's values.
        task: batches, loss and evaluation (see :class:`Task`).
        config: the :class:`TrainConfig`.
        optimizer: an optimizer over the model's parameters (default: ``config.optimizer`` with
            ``config.lr`` and ``config.weight_decay``).
        checkpoint_dir: where to write ``last`` (every evaluation, and every epoch that took
            :data:`CHECKPOINT_SECONDS` or more) and ``best`` checkpoints.
        resume: continue from ``checkpoint_dir/last`` when it exists.
        state: extra JSON metadata stored in checkpoints (vocabularies, model config).
        on_epoch_end: called after every epoch with ``(epoch, model)``.
    """
    return _fit(model, task, config, optimizer, checkpoint_dir, resume, state, on_epoch_end)


def _fit(model, task, config, optimizer, ckpt_dir, resume, state, on_epoch_end) -> FitResult:
    world = init_distributed(config.device)
    device = world.device if world is not None else resolve_device(config.device)
    torch.set_num_threads(choose_threads(task.size(), config.threads))
    seed_everything(config.seed)
    model.to(device)
    task = task.to(device)
    if hasattr(task, "bind"):  # lets the task pick how to batch for this model (e.g. sampled GNN steps)
        unbudgeted = resume and ckpt_dir is not None and _as_saved(task, _saved_state(Path(ckpt_dir)))
        task.bind(model)
        if state is not None and hasattr(task, "mode_option"):
            state = _with_step_mode(state, task, unbudgeted)
    optimizer = optimizer or make_optimizer(model.parameters(), config)
    switched = sparse_rows(model, task, optimizer, world)
    try:
        with once_per_run():  # a diverged run's validations repeat one warning: it is given once
            return _train(model, task, config, optimizer, world, device, ckpt_dir, resume, state, on_epoch_end)
    finally:
        dense_rows(switched)


def _saved_state(ckpt: Path) -> dict:
    """The run state (model, task, data, step mode) the last checkpoint in ``ckpt`` recorded; {} without one."""
    from kgtransfer.checkpoint import checkpoint_exists, checkpoint_folder, read_meta

    if not checkpoint_exists(ckpt / "last"):
        return {}
    state = read_meta(checkpoint_folder(ckpt / "last") / "meta.json").get("state")
    return state if isinstance(state, dict) else {}


def inner_task(task):
    """The task a wrapper (a fine-tuning strategy's penalty) forwards to; ``task`` when it wraps none."""
    while "task" in vars(task):
        task = vars(task)["task"]
    return task


def _as_saved(task, saved: dict) -> bool:
    """Resume ``task`` as its run began.

    That is the step mode ``mode="auto"`` chose then (not today's rule), and no edge budget for a run
    begun before ``TaskConfig.edge_budget`` existed: its checkpoint records no ``edge_budget`` (its
    sampled steps had none). Returns whether the run is such a run.
    """
    inner = inner_task(task)
    mode = saved.get("step_mode")
    if mode in ("batch", "full", "sampled") and getattr(inner, "mode_option", None) == "auto":
        inner.mode_option = inner.mode = mode
    config = getattr(inner, "config", None)
    unbudgeted = bool(saved) and "edge_budget" not in saved and hasattr(config, "edge_budget")
    if unbudgeted:
        inner.config = replace(config, edge_budget=None)
    return unbudgeted


def _with_step_mode(state: Callable[[], dict | None], task, unbudgeted: bool) -> Callable[[], dict | None]:
    """``state`` that also records the step mode the task resolved and its edge budget.

    A checkpoint without them still resumes. ``unbudgeted`` (:func:`_as_saved`): a run begun before
    the budget; its task settings are compared and recorded without ``edge_budget``, as it saved them.
    """
    from kgtransfer.checkpoint import RunState

    inner = inner_task(task)

    def extended():
        current = state()
        if current is None:
            return None
        earlier = {**getattr(current, "earlier", {}), "step_mode": (None,)}
        values = {**current, "step_mode": inner.mode}
        budget = getattr(getattr(inner, "config", None), "edge_budget", None)
        if unbudgeted and isinstance(current.get("task"), dict):
            values["task"] = {k: v for k, v in current["task"].items() if k != "edge_budget"}
        elif not unbudgeted:
            values["edge_budget"] = budget
        return RunState(values, earlier)

    return extended


def _train(model, task, config, optimizer, world, device, checkpoint_dir, resume, state, on_epoch_end) -> FitResult:
    from kgtransfer.checkpoint import checkpoint_exists, promote_best, resume_state, save_training_state, staged_best

    autocast = _autocast(config, device)
    history, best, best_epoch, stale, start = History(), {}, 0, 0, 1
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    restored = None
    if resume and ckpt is not None and _is_main(world) and checkpoint_exists(ckpt / "last"):
        current = state() if state is not None else None
        restored = resume_state(ckpt, model, optimizer, device, config.to_json(), current)
    elif ckpt is not None and _is_main(world):  # a new run in this folder: an earlier run's staged best is not its own
        shutil.rmtree(staged_best(ckpt), ignore_errors=True)
    if world is not None:  # every rank continues from rank 0's weights, optimizer state and counters
        restored = _from_main(None if restored is None else (*restored, optimizer.state_dict()), world)
        if restored is not None:
            if not _is_main(world):
                optimizer.load_state_dict(restored[-1])
            restored = restored[:-1]
    step = _step_module(model, task, world)  # under torchrun, DDP: it starts every rank from rank 0's weights
    best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if restored is not None:
        fields, best, best_epoch, stale, start, saved_best = restored
        history = _history(fields, ckpt)
        best_weights = saved_best if saved_best is not None else best_weights

    bar = _progress(config if _is_main(world) else replace(config, progress=False), start)
    before, staged = None, False
    began, waited = time.perf_counter(), paused_seconds()
    earlier = history.elapsed  # 0 for a new run
    stopped = bool(config.patience) and stale >= config.patience  # a resumed run that had already stopped
    epoch = start - 1
    for epoch in range(start, start if stopped else config.epochs + 1):
        torch.manual_seed(config.seed * 1_000_003 + epoch)
        generator = epoch_generator(config.seed, epoch)
        model.train()
        t0, total, count, paused = time.perf_counter(), 0.0, 0, paused_seconds()
        batches = _my_batches(task.batches(epoch, config.batch_size, generator), world)
        for batch, weight in _batch_progress(batches, task, config if _is_main(world) else None, epoch, world):
            pause()  # interleaved trainings (kgtransfer.interleave) take their turns here; else a no-op
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = step(batch)
            if not _finite_everywhere(loss, world):
                where = "" if world is None else f" on rank {world.rank}"
                if world is not None and torch.isfinite(loss):
                    where = f" on another rank (rank {world.rank}'s: {loss.item()})"
                raise TrainingDivergedError(
                    f"epoch {epoch}: the loss became {'non-finite' if where else loss.item()}{where} at "
                    f"{_diverged_advice(config)}"
                )
            (loss * weight if weight != 1 else loss).backward()  # DDP averages the gradients over the ranks here
            if config.grad_clip > 0:
                clip_gradients(model.parameters(), config.grad_clip)
            optimizer.step()
            if weight:
                total, count = total + loss.item(), count + 1
        broken = _non_finite_parameter(model)  # the epoch's last step: no later loss would show it
        if broken is not None:  # every rank holds the same weights, so every rank raises
            raise TrainingDivergedError(
                f"epoch {epoch}: parameter {broken} became non-finite at {_diverged_advice(config)}"
            )
        if world is not None:  # the epoch's mean loss over every rank's batches, the same on every rank
            total, count = _sum_over_ranks([total, count], world)
        history.loss.append(total / max(count, 1))
        history.seconds.append(time.perf_counter() - t0 - (paused_seconds() - paused))  # not the waits for others
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        evaluate_now = epoch % config.eval_every == 0 or epoch == config.epochs
        if evaluate_now:  # under torchrun rank 0 evaluates; the others wait for its metrics
            metrics = None
            if _is_main(world):
                model.eval()
                with torch.no_grad():  # full precision: bf16 scores tie often, and ties move realistic ranks
                    metrics = task.evaluate(model, "valid")
            metrics = _from_main(metrics, world)
            # the closing evaluation of a run whose last epoch is off the eval_every schedule: a longer
            # run resumed from here would not have made it, so `last` keeps the state before it too
            scheduled = epoch % config.eval_every == 0
            before = None if scheduled else {"best": dict(best), "best_epoch": best_epoch, "stale": stale}
            history.evals.append({"epoch": epoch, **{k: v for k, v in metrics.items() if isinstance(v, float)}})
            value = metrics[task.metric]
            if math.isnan(value) and sum(math.isnan(e.get(task.metric, 0.0)) for e in history.evals) == 1:
                empty = metrics.get("num_triples", metrics.get("num_nodes")) == 0
                message = (
                    "no validation data: the valid split is empty, so nothing stops early; the latest epoch is kept"
                    if empty
                    else f"validation {task.metric} is NaN: the latest epoch is kept"
                )
                warnings.warn(message, stacklevel=2)
            if not best or value > best[task.metric] or math.isnan(value):
                best, best_epoch, stale = dict(metrics), epoch, 0
                best_weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
                if ckpt is not None and _is_main(world) and scheduled:  # else `last` holds these weights
                    # staged beside best/ until `last` records this epoch as the best (promote_best below):
                    # a run stopped between the two writes keeps a best/ that matches its last/
                    save_training_state(staged_best(ckpt), model, None, {"epoch": epoch}, state)
                    staged = True
            else:
                stale += 1
            if config.patience and stale >= config.patience:
                stopped = True
        # `last` after every evaluation, and after every long epoch: a killed run loses at most one of those
        if ckpt is not None and _is_main(world) and (evaluate_now or history.seconds[-1] >= CHECKPOINT_SECONDS):
            history.elapsed = earlier + time.perf_counter() - began - (paused_seconds() - waited)
            meta = {
                "epoch": epoch,
                "best": best,
                "best_epoch": best_epoch,
                "stale": stale,
                "history": asdict(history),
                "config": config.to_json(),
            }
            if evaluate_now and before is not None:
                meta["scheduled"] = before
            save_training_state(ckpt / "last", model, optimizer, meta, state)
            if staged:
                promote_best(ckpt)
                staged = False
        bar.update(1)
        bar.set_postfix(_postfix(history, task.metric))
        if stopped:
            break
    bar.close()
    model.load_state_dict(best_weights)
    model.eval()
    seconds = earlier + time.perf_counter() - began - (paused_seconds() - waited)  # earlier: a resumed run's sessions
    return FitResult(best, best_epoch, epoch, history, stopped, seconds, torch.get_num_threads(), str(device))


def _diverged_advice(config: TrainConfig) -> str:
    """The settings a diverged run trained with and what to lower ("lr 10; lower the learning rate")."""
    if config.weight_decay:
        return f"lr {config.lr:g} and weight decay {config.weight_decay:g}; lower the learning rate or the weight decay"
    return f"lr {config.lr:g}; lower the learning rate"


def _non_finite_parameter(model: nn.Module) -> str | None:
    """The name of the first parameter of ``model`` holding a NaN or an infinity; None when all are finite."""
    for name, p in model.named_parameters():
        if not bool(torch.isfinite(p.detach()).all()):
            return name
    return None


def _autocast(config: TrainConfig, device: torch.device):
    """bf16 autocast for training steps on CUDA with ``config.amp``; a no-op context elsewhere."""
    if config.amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def _postfix(history: History, metric: str) -> dict:
    out = {"loss": f"{history.loss[-1]:.4f}"}
    if history.evals:
        out[f"val_{metric}"] = f"{history.evals[-1].get(metric, math.nan):.4f}"
    return out


def _batch_progress(batches, task, config: TrainConfig | None, epoch: int, world: World | None = None):
    """Per-batch progress for long epochs: a second bar that appears when an epoch runs past 2 s."""
    if config is None or not config.progress:
        return batches
    from tqdm.auto import tqdm

    count, name = getattr(task, "num_batches", None), job_name()
    return tqdm(
        batches,
        total=-(-count(config.batch_size) // (world.size if world else 1)) if callable(count) else None,
        desc=f"{name} epoch {epoch}" if name else f"epoch {epoch}",
        unit="batch",
        leave=False,
        position=None if name else 1,  # interleaved: the next free line below every job's epoch bar
        delay=2.0,
        dynamic_ncols=True,
        disable=None,  # not on a pipe or log file (its redrawn frames would pile up there)
    )


def _progress(config: TrainConfig, start: int):
    from tqdm.auto import tqdm

    return tqdm(
        total=config.epochs,
        initial=start - 1,
        desc=job_name() or "train",  # interleaved trainings: one bar each, named
        unit="epoch",
        disable=None if config.progress else True,  # None: only on a terminal, not into a pipe or log file
        leave=False,
        dynamic_ncols=True,
    )


# --- data parallel training under torchrun ---------------------------------------------------


@dataclass(frozen=True)
class World:
    """The rank, world size and device of a process in a ``torch.distributed`` job."""

    rank: int
    size: int
    device: torch.device


def init_distributed(device: str = "auto") -> World | None:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); None otherwise.

    Backend: NCCL on CUDA (one GPU per local rank), gloo on CPU. Each rank trains on its share of
    every epoch's batches; gradients are averaged across ranks after each backward pass, so all
    ranks hold the same weights. Rank 0 alone evaluates and writes checkpoints; its validation
    metrics are broadcast, so every rank keeps the same best epoch and stops at the same time.
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = rank_device(device, local_rank, int(os.environ.get("LOCAL_WORLD_SIZE", str(local_rank + 1))))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return World(dist.get_rank(), dist.get_world_size(), dev)


def rank_device(device: str, local_rank: int, local_size: int) -> torch.device:
    """The device of the process ``local_rank`` of the ``local_size`` that ``torchrun`` started on this machine.

    On CUDA each process takes the GPU of its local rank. ``"auto"`` takes CUDA only when there is a GPU for
    every local process (else CPU with gloo, and a warning): every rank must pick the same backend.

    Raises:
        ConfigError: CUDA asked for, and fewer GPUs than local processes.
    """
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        if gpus and gpus < local_size:
            warnings.warn(
                f"torchrun started {local_size} processes on this machine, which has {gpus} GPU(s): training on "
                "CPU (gloo); start one process per GPU (--nproc_per_node) to train on them",
                stacklevel=3,
            )
        return torch.device("cuda", local_rank) if gpus >= local_size else torch.device("cpu")
    dev = resolve_device(device)
    if dev.type != "cuda":
        return dev
    if local_rank >= gpus:
        raise ConfigError(
            f"device {device!r}: torchrun started {local_size} processes on this machine, which has {gpus} GPU(s); "
            f"start one process per GPU (--nproc_per_node {gpus}) or train on 'cpu'"
        )
    return torch.device("cuda", local_rank)


def _is_main(world: World | None) -> bool:
    return world is None or world.rank == 0


def _from_main(value, world: World | None):
    """Rank 0's ``value`` on every rank (a broadcast of a picklable object; the value itself outside torchrun)."""
    if world is None:
        return value
    box = [_to_cpu(value)]  # tensors travel on CPU: a CUDA tensor would unpickle onto rank 0's GPU
    torch.distributed.broadcast_object_list(box, src=0, device=world.device if world.device.type == "cuda" else None)
    return box[0]


def _sum_over_ranks(values: list[float], world: World) -> list[float]:
    """Each number summed over the ranks (one all-reduce, float64, on the rank's device: NCCL needs CUDA)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=world.device)
    torch.distributed.all_reduce(tensor)
    return tensor.tolist()


def _to_cpu(value):
    """``value`` with every tensor in its (nested) tuples, lists and dicts moved to CPU."""
    if isinstance(value, Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value


class _Step(nn.Module):
    """A training step's loss as a module's ``forward``.

    What :class:`~torch.nn.parallel.DistributedDataParallel` wraps: it hooks the gradient all-reduce
    into the backward pass of its module's forward.
    """

    def __init__(self, model: nn.Module, task):
        super().__init__()
        self.model, self.task = model, task

    def forward(self, batch) -> Tensor:
        return self.task.loss(self.model, batch)


def _step_module(model: nn.Module, task, world: World | None) -> nn.Module:
    """The step's loss, under torchrun wrapped in DDP.

    DDP broadcasts rank 0's weights and buffers when it wraps, and averages the gradients of every
    backward pass over the ranks (``find_unused_parameters``: a sampled step need not touch every
    parameter).
    """
    step = _Step(model, task)
    if world is None:
        return step
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [world.device.index] if world.device.type == "cuda" else None
    return DistributedDataParallel(step, device_ids=device_ids, find_unused_parameters=True)


def _my_batches(batches: Iterator, world: World | None) -> Iterator[tuple[object, float]]:
    """``(batch, weight)``: round-robin shares of the batches, each loss's weight in the round's step.

    DDP averages the gradients of the ``N`` ranks; a round that holds ``k < N`` batches (the last
    of an epoch) weighs them ``N / k``, so the step follows the mean gradient of its ``k`` batches,
    as one process would. A rank with nothing in that round steps on another rank's batch with
    weight 0: it adds zero gradients to the all-reduce, which every rank must join.
    """
    if world is None:
        for batch in batches:
            yield batch, 1.0
        return
    items = list(batches)
    for start in range(0, len(items), world.size):
        index, k = start + world.rank, min(world.size, len(items) - start)
        yield (items[index], world.size / k) if index < len(items) else (items[start], 0.0)


def _finite_everywhere(loss: Tensor, world: World | None) -> bool:
    """Whether the loss is finite on this rank and, under torchrun, on every rank (one all-reduce).

    A rank that raised alone would leave the others waiting in DDP's all-reduce for ever.
    """
    finite = bool(torch.isfinite(loss))
    if world is None:
        return finite
    flag = torch.tensor([float(finite)], device=world.device)
    torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
    return bool(flag.item())

"""Checkpoint files that cannot poison a rerun: written atomically, verified when read.

A file is a header line, ``nalm-checkpoint-1 <sha256 of the payload>``, then the payload: the
run's state as ``torch.save`` writes it. It is written to a temporary file of a unique name in the
same folder and renamed into place, so a reader sees the old file or the new one, never half of
one, and two writers never share a temporary file.

[`read_checkpoint`][nalm.bench.engine.checkpoint.read_checkpoint] returns the state only if the digest matches and the state belongs to the
run asked for. Anything else (a truncated, empty or altered file, another run's state, a file
from before these headers) is set aside under a new name with a warning that names both, and the
run starts from scratch: never a traceback, never a silently wrong number.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch

MAGIC = b"nalm-checkpoint-1 "


class CheckpointWarning(UserWarning):
    """A checkpoint was set aside: the run it belonged to starts again."""


def write_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` with its digest, atomically. A file system that refuses the
    write (full, read-only) is a ValueError naming the checkpoint; its temporary file is removed."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".partial")
    except OSError as error:
        raise _write_error(path, error) from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _write_error(path, error) from None
        raise


def _write_error(path: Path, error: OSError) -> ValueError:
    return ValueError(
        f"cannot write checkpoint {path}: {error.strerror or error}; free space on its disk or choose "
        "another --results folder, then run the same command again"
    )


def _payload(data: bytes) -> bytes:
    """The payload of a checkpoint's bytes; ValueError saying what is wrong with them."""
    if not data:
        raise ValueError("it is empty")
    if not data.startswith(MAGIC):
        raise ValueError("it is not a nalm checkpoint")
    header, _, payload = data.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode() != header[len(MAGIC) :]:
        raise ValueError("its content does not match its checksum (cut off or altered)")
    return payload


def _state(data: bytes, device: torch.device | str) -> Any:
    """What a checkpoint's bytes hold (tensors and plain values only), on ``device``; an error where
    they are not a whole nalm checkpoint."""
    return torch.load(io.BytesIO(_payload(data)), map_location=device, weights_only=True)


def saved_step(path: Path) -> int | None:
    """The step of the checkpoint at ``path``, or None where there is none or it cannot be read: a
    look only (whether it is the run's own is checked, and a bad file set aside, when the run reads it)."""
    try:
        state = _state(path.read_bytes(), "cpu")
    except Exception:  # missing, unreadable, cut off or foreign: nothing to report
        return None
    step = state.get("step") if isinstance(state, dict) else None
    return step if isinstance(step, int) else None


def set_aside_folder(path: Path) -> Path:
    """Where a checkpoint that cannot be used is moved: next to the checkpoint folder of a sweep
    (``RESULTS.set-aside/``, which outlives the sweep), or beside the file."""
    folder = path.parent
    if folder.name.endswith(".checkpoints"):
        return folder.with_name(folder.name.removesuffix(".checkpoints") + ".set-aside")
    return folder


def read_checkpoint(path: Path, run: dict[str, Any], device: torch.device | str) -> dict[str, Any] | None:
    """The state saved at ``path`` for ``run``, or None if there is none or it was set aside. A file
    that cannot be read at all (permissions, I/O) is a ValueError naming it: it is not moved."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValueError(f"cannot read checkpoint {path}: {error.strerror or error}") from None
    try:
        state = _state(data, device)
        if not isinstance(state, dict) or state.get("run") != run:
            raise ValueError("it belongs to another run")
    except Exception as error:  # damaged or foreign content: set the file aside and start again
        folder = set_aside_folder(path)
        aside = folder / f"{path.name}.set-aside-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(path, aside)
        except FileNotFoundError:  # another reader set it aside first
            return None
        except OSError as move_error:
            raise ValueError(f"checkpoint {path} cannot be used ({error}) nor moved aside ({move_error})") from None
        warnings.warn(
            f"checkpoint {path} cannot be used ({error}); it was moved to {aside} and the run starts from step 0",
            CheckpointWarning,
            stacklevel=2,
        )
        return None
    return state

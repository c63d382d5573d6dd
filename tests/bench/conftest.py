"""Shared by the benchmark's tests: small disks that can be filled (a full disk) or made read-only."""

import contextlib
import errno
import os
import subprocess
from pathlib import Path

import pytest


class Disks:
    """Small tmpfs file systems for tests of full and read-only disks (a test that cannot mount is skipped)."""

    @staticmethod
    @contextlib.contextmanager
    def mounted(folder: Path, options: str = "size=64k"):
        """A small tmpfs mounted on ``folder`` (a new folder) for the block. Whatever is mounted on it
        or below is unmounted afterwards."""
        folder.mkdir()
        try:
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
        except FileNotFoundError:
            pytest.skip("no mount command")
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        try:
            yield folder
        finally:
            below = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
            for point in reversed([p for p in below if p == str(folder) or p.startswith(f"{folder}/")]):
                subprocess.run(["umount", point], check=True)

    @staticmethod
    def fill(folder: Path, leave_pages: int = 0) -> None:
        """Fill the file system of ``folder`` but for ``leave_pages`` pages."""
        page = os.sysconf("SC_PAGE_SIZE")
        descriptor = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(descriptor, b"\0" * page)
        except OSError as error:
            assert error.errno == errno.ENOSPC
        size = os.fstat(descriptor).st_size
        os.ftruncate(descriptor, max(0, size - size % page - leave_pages * page))
        os.close(descriptor)


@pytest.fixture
def disks():
    return Disks


@pytest.fixture
def crash_before_saving(monkeypatch):
    """``with crash_before_saving(step):``: within the block, the training loop raises
    KeyboardInterrupt where it would save the checkpoint of ``step`` (as a kill then would leave the
    one before); the block expects it."""
    from nalm.bench.engine import loop

    save = loop.save_state

    @contextlib.contextmanager
    def crashing(step):
        def crash(path, run, at, *args):
            if at == step:
                raise KeyboardInterrupt
            save(path, run, at, *args)

        with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
            patch.setattr(loop, "save_state", crash)
            yield

    return crashing

"""The benchmark's random data: counter-based streams, drawn by compiled kernels, many seeds at once.

Every seed has independent named streams ([`STREAMS`][nalm.bench.tasks.streams.STREAMS]). Draw n of a stream is the 64-bit
SplitMix64 mixing function (Steele, Lea and Flood, OOPSLA 2014) of the counter
``GAMMA * (start + n)``; the streams' starts are [`STREAM_DRAWS`][nalm.bench.tasks.streams.STREAM_DRAWS] apart, so no two streams
share a draw, and any draw is computed from its position alone. One 64-bit draw gives two uniform
values in [0, 1), one per 32-bit half: k / 2^32 with all 32 bits for float64 data, the top 24
bits for float32 (the same draws, cut to 24 bits). A row of ``columns`` values
takes ceil(columns / 2) draws, so any row of a set can be drawn without the rows before it.

The kernels (numba, in parallel over the seeds) write the inputs x (S, rows, columns) and the
subset sums a, b (S, rows, 2) of the static task in float64. On other devices (a GPU) the same
draws are computed there by tensor operations (`_draw_on_device`: 64-bit integer arithmetic
that wraps, as SplitMix64's does), so the data never crosses from the CPU and equals the CPU's
up to the rounding of the scaling and of the sums. [`draw_projection`][nalm.bench.tasks.streams.draw_projection] also
multiplies x by a per-seed weight as it draws, for models whose first layer is linear, and keeps
x for the gradient of that weight. Every sum is added in an order fixed by the code
([`nalm.bench.tasks.fixed_order`][nalm.bench.tasks.fixed_order]), never reordered by the compiler, so the
numbers do not depend on the vector width of the CPU the kernels were compiled for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numba
import numpy as np
import torch
from numba import njit, prange
from torch.autograd.function import once_differentiable

from nalm.bench.tasks.fixed_order import fixed_order_dot, row_sum

# Idle threads of numba's OpenMP pool sleep rather than spin (GNU OpenMP spins for a while after
# each parallel region by default): a spinning pool beside PyTorch's work in the same process, or
# beside the other workers, made a sweep's workers 5x slower on 2 cores (the division presets). The
# pool reads this when it starts, at the first parallel kernel; a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

STREAMS = ("subsets", "train", "interpolation", "extrapolation", "threshold")
"""The independent random streams of one seed."""

DATA_STREAMS = "splitmix64-v1"
"""The version of this data layout, recorded with benchmark results: other data, other numbers."""

STREAM_DRAWS = 1 << 40
"""64-bit draws that one stream of one seed may use: 1.1e12, 34 runs of 5e6 steps of 128 x 100 values."""

MAX_SEED = (1 << 64) // (STREAM_DRAWS * len(STREAMS)) - 1
"""The largest seed whose streams fit in the 64-bit counter."""

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_CPU_DRAWN = ("mps",)
"""Devices without float64, whose data the CPU draws (then moved there)."""
BITS = {torch.float32: 24, torch.float64: 32}
"""Random bits per value of the dtypes drawn natively; other dtypes are drawn in float32 and cast."""


HALF_STREAMS = {"train": 0, "noise": STREAM_DRAWS // 2}
"""Streams that share one stream's draws, each its half from this offset: a seed's training noise
(the sNMU's) is the second half of its "train" stream, so that adding it moved no other stream.
A run of 5e6 steps of 128 rows of 100 inputs uses 2^35 draws of its 2^39."""


def stream_start(seed: int, stream: str) -> int:
    """The position of the first draw of ``seed``'s ``stream`` (one of [`STREAMS`][nalm.bench.tasks.streams.STREAMS], or "noise")."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, {MAX_SEED}], got {seed!r}")
    if stream not in (*STREAMS, *HALF_STREAMS):
        raise ValueError(f"stream must be one of {', '.join((*STREAMS, 'noise'))}, got {stream!r}")
    index = STREAMS.index("train" if stream in HALF_STREAMS else stream)
    return (int(seed) * len(STREAMS) + index) * STREAM_DRAWS + HALF_STREAMS.get(stream, 0)


class SeedStreams:
    """One named stream of each of several seeds, each at its own position: (S,) uint64 ``positions``.

    `advance` hands out the positions of the next ``rows`` rows and moves every stream past
    them, so consecutive calls continue each seed's stream (as one call for all the rows would).
    """

    def __init__(self, seeds: Sequence[int], stream: str) -> None:
        self.positions = np.array([stream_start(seed, stream) for seed in seeds], dtype=np.uint64)
        self._used = 0
        self._draws = STREAM_DRAWS // 2 if stream in HALF_STREAMS else STREAM_DRAWS

    def advance(self, rows: int, columns: int) -> np.ndarray:
        """The current positions, (S,) uint64; the streams move on by ``rows`` rows of ``columns`` values.
        Raises ValueError before a stream would run past its [`STREAM_DRAWS`][nalm.bench.tasks.streams.STREAM_DRAWS] draws (half
        of them for the streams of [`HALF_STREAMS`][nalm.bench.tasks.streams.HALF_STREAMS])."""
        draws = rows * draws_per_row(columns)
        if self._used + draws > self._draws:
            raise ValueError(f"a stream holds {self._draws} draws; {self._used + draws} were asked for")
        positions = self.positions.copy()
        self.positions += np.uint64(draws)
        self._used += draws
        return positions


def draws_per_row(columns: int) -> int:
    """64-bit draws for one row of ``columns`` values: two values per draw."""
    return (columns + 1) // 2


@njit(inline="always")
def _splitmix(position):
    """SplitMix64's mixing function of the counter GAMMA * position: 64 random bits."""
    z = position * GAMMA
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def fill_row(row, position, bits, lows, starts, total):
    """Write ``row`` (columns,) from the draws at ``position`` onwards, ``bits`` random bits per
    value, uniform over the intervals that begin at ``lows[k]`` and at ``starts[k]`` along their
    total length ``total``."""
    columns = row.shape[0]
    if bits == 24:  # float32: the top 24 bits of each half; int32 converts in vector registers
        for j in range(columns // 2):
            z = _splitmix(position + np.uint64(j))
            row[2 * j] = np.int32(z >> np.uint64(40))
            row[2 * j + 1] = np.int32((z >> np.uint64(8)) & np.uint64(0xFFFFFF))
    else:  # float64: all 32 bits of each half
        for j in range(columns // 2):
            z = _splitmix(position + np.uint64(j))
            row[2 * j] = np.int64(z >> np.uint64(32))
            row[2 * j + 1] = np.int64(z & np.uint64(0xFFFFFFFF))
    if columns % 2:
        row[columns - 1] = np.int64(_splitmix(position + np.uint64(columns // 2)) >> np.uint64(64 - bits))
    scale = row.dtype.type(2.0**-bits)
    width = row.dtype.type(total) * scale
    offset = row.dtype.type(lows[0])
    for j in range(columns):
        row[j] = row[j] * width + offset
    if lows.shape[0] > 1:  # a union: move each value past interval k's start into interval k
        for j in range(columns):
            for k in range(lows.shape[0] - 1, 0, -1):
                start = lows[0] + starts[k]
                if row[j] >= start:
                    row[j] += lows[k] - start
                    break


@njit(parallel=True, cache=True)
def _draw(positions, per_row, bits, lows, starts, total, spans, weight_t, x, sums, h):
    """x[s, r] from seed s's stream at positions[s] + r * per_row, sums[s, r] its subset sums, and
    h[s, r, k] = x[s, r] . weight_t[s, k] while the row is in cache (none for a weight_t (S, 0, columns))."""
    for s in prange(x.shape[0]):
        a_start, a_stop, b_start, b_stop = spans[s, 0], spans[s, 1], spans[s, 2], spans[s, 3]
        weight = weight_t[s]
        for r in range(x.shape[1]):
            row = x[s, r]
            fill_row(row, positions[s] + np.uint64(r * per_row), bits, lows, starts, total)
            sums[s, r, 0] = row_sum(row, a_start, a_stop)
            sums[s, r, 1] = row_sum(row, b_start, b_stop)
            for k in range(weight_t.shape[1]):
                h[s, r, k] = fixed_order_dot(row, weight, k)


@njit(parallel=True, cache=True)
def _project_back(x, grad_h_t, grad_weight_t):
    """grad_weight_t[s, k] = sum over rows r of grad_h_t[s, k, r] * x[s, r]."""
    for s in prange(x.shape[0]):
        for k in range(grad_h_t.shape[1]):
            out = grad_weight_t[s, k]
            out[:] = 0.0
            for r in range(x.shape[1]):
                g = grad_h_t[s, k, r]
                row = x[s, r]
                for j in range(row.shape[0]):
                    out[j] += row[j] * g


def interval_arrays(bounds: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray, float]:
    """(lows, starts, total) of [`fill_row`][nalm.bench.tasks.streams.fill_row] for the intervals ``bounds``."""
    lengths = np.array([high - low for low, high in bounds])
    starts = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    return np.array([low for low, _ in bounds]), starts, float(lengths.sum())


def _native(dtype: torch.dtype) -> torch.dtype:
    """The dtype the kernels draw for ``dtype``: itself for float32 and float64, else float32."""
    return dtype if dtype in BITS else torch.float32


def draw(
    streams: SeedStreams,
    rows: int,
    columns: int,
    bounds: Sequence[tuple[float, float]],
    spans: np.ndarray,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The next ``rows`` rows of every seed's stream: x ~ U[bounds]^columns, (S, rows, columns) in
    ``dtype``, and the sums (S, rows, 2) float64 of x[..., spans[s, 0]:spans[s, 1]] and
    x[..., spans[s, 2]:spans[s, 3]] (in ``dtype``'s precision) for seed s, on ``device``.

    ``bounds`` are disjoint sorted intervals (low, high); x is uniform over their union.
    ``spans`` is (S, 4) int64. Dtypes other than float32 and float64 are drawn in float32, then
    rounded; their sums are those of the rounded x. The CPU draws with the compiled kernels, any
    other device with `_draw_on_device`, there; a device without float64 (Apple's MPS) gets
    the CPU's x, and its sums stay on the CPU.
    """
    n_seeds = len(streams.positions)
    spans = _check_spans(spans, n_seeds, columns)
    device = torch.device(device)
    native = _native(dtype)
    positions = streams.advance(rows, columns)
    intervals = interval_arrays(bounds)
    if device.type not in ("cpu", *_CPU_DRAWN):
        drawn = _draw_on_device(positions, rows, columns, BITS[native], *intervals, native, device)
        rounded = drawn.to(dtype)
        return rounded, _subset_sums(rounded, spans)
    x = np.empty((n_seeds, rows, columns), dtype=_numpy(native))
    sums = np.empty((n_seeds, rows, 2))
    no_weight = np.empty((n_seeds, 0, columns), dtype=x.dtype)
    no_projection = np.empty((n_seeds, rows, 0), dtype=x.dtype)
    start_threads()
    _draw(positions, draws_per_row(columns), BITS[native], *intervals, spans, no_weight, x, sums, no_projection)
    if native == dtype:
        return torch.from_numpy(x).to(device), torch.from_numpy(sums)
    rounded = torch.from_numpy(x).to(dtype)
    return rounded.to(device), _subset_sums(rounded, spans)


def _subset_sums(x: torch.Tensor, spans: np.ndarray) -> torch.Tensor:
    """(S, rows, 2) float64: the sums of x (S, rows, columns) over each seed's two ``spans``."""
    columns = torch.arange(x.shape[-1], device=x.device)
    edges = torch.from_numpy(spans).to(x.device)[:, None, :]  # (S, 1, 4)
    masks = [
        (edges[..., start : start + 1] <= columns) & (columns < edges[..., start + 1 : start + 2]) for start in (0, 2)
    ]
    wide = x.double()
    return torch.stack([torch.where(mask, wide, 0.0).sum(-1) for mask in masks], -1)


def _as_int64(value: int) -> int:
    """The 64-bit two's-complement reading of ``value`` mod 2^64: what an int64 tensor holds for it."""
    value %= 1 << 64
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift_right(z: torch.Tensor, bits: int) -> torch.Tensor:
    """z >> bits of the unsigned 64-bit value that int64 ``z`` holds (a logical shift)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def _splitmix_on_device(position: torch.Tensor) -> torch.Tensor:
    """`_splitmix` of int64 ``position`` (the uint64 counter's bits), in tensor operations:
    int64 multiplies wrap mod 2^64 as uint64 ones do, and shifts are made logical."""
    z = position * _as_int64(int(GAMMA))
    z = (z ^ _shift_right(z, 30)) * _as_int64(int(_MIX_1))
    z = (z ^ _shift_right(z, 27)) * _as_int64(int(_MIX_2))
    return z ^ _shift_right(z, 31)


def _draw_on_device(
    positions: np.ndarray,
    rows: int,
    columns: int,
    bits: int,
    lows: np.ndarray,
    starts: np.ndarray,
    total: float,
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """x (S, rows, columns) in ``dtype`` (float32 or float64) on ``device``: [`fill_row`][nalm.bench.tasks.streams.fill_row] of every
    row of every seed at once, stream s from ``positions[s]``."""
    per_row = draws_per_row(columns)
    base = torch.from_numpy(np.ascontiguousarray(positions, dtype=np.uint64).view(np.int64)).to(device)  # the same bits
    offsets = torch.arange(rows * per_row, dtype=torch.int64, device=device).view(1, rows, per_row)
    z = _splitmix_on_device(base.view(-1, 1, 1) + offsets)
    high = _shift_right(z, 64 - bits)  # also the value of an odd last column
    low = (z >> (32 - bits)) & ((1 << bits) - 1)
    values = torch.stack([high, low], -1).view(len(positions), rows, 2 * per_row)[..., :columns]
    scale = np.dtype(_numpy(dtype)).type
    x = values.to(dtype) * float(scale(total) * scale(2.0**-bits)) + float(scale(lows[0]))
    moved = torch.zeros_like(x, dtype=torch.bool)
    for k in range(len(lows) - 1, 0, -1):  # a union: as fill_row, in float64, the last interval first
        start = lows[0] + starts[k]
        wide = x.double()
        move = (wide >= start) & ~moved
        x = torch.where(move, (wide + (lows[k] - start)).to(dtype), x)
        moved |= move
    return x


def _check_spans(spans: np.ndarray, n_seeds: int, columns: int) -> np.ndarray:
    """``spans`` as (S, 4) int64 with 0 <= start <= stop <= columns, else ValueError (the kernels
    do not check bounds)."""
    spans = np.ascontiguousarray(spans, dtype=np.int64)
    if columns < 1 or spans.shape != (n_seeds, 4):
        raise ValueError(f"need columns >= 1 and spans of shape ({n_seeds}, 4), got {columns} and {spans.shape}")
    starts, stops = spans[:, 0::2], spans[:, 1::2]
    if (starts < 0).any() or (starts > stops).any() or (stops > columns).any():
        raise ValueError(f"spans must be (start, stop, start, stop) with 0 <= start <= stop <= {columns}, got {spans}")
    return spans


class _Projection(torch.autograd.Function):
    """h = x @ weight for freshly drawn x, (S, rows, columns) @ (S, columns, out); x is kept for backward."""

    @staticmethod
    def forward(ctx, weight, positions, rows, bounds, spans):
        columns = weight.shape[1]
        x = np.empty((weight.shape[0], rows, columns), dtype=_numpy(weight.dtype))
        sums = np.empty((weight.shape[0], rows, 2))
        h = np.empty((weight.shape[0], rows, weight.shape[2]), dtype=x.dtype)
        weight_t = weight.detach().transpose(1, 2).contiguous().numpy()
        start_threads()
        _draw(
            positions, draws_per_row(columns), BITS[weight.dtype], *interval_arrays(bounds), spans, weight_t, x, sums, h
        )
        ctx.x = x
        sums_t = torch.from_numpy(sums)
        ctx.mark_non_differentiable(sums_t)
        return torch.from_numpy(h), sums_t

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h, grad_sums):
        grad_h_t = grad_h.transpose(1, 2).contiguous().numpy()
        grad_weight_t = np.empty((ctx.x.shape[0], grad_h_t.shape[1], ctx.x.shape[2]), dtype=ctx.x.dtype)
        _project_back(ctx.x, grad_h_t, grad_weight_t)
        return torch.from_numpy(grad_weight_t).transpose(1, 2), None, None, None, None


def projectable(weight: torch.Tensor) -> bool:
    """Whether [`draw_projection`][nalm.bench.tasks.streams.draw_projection] can draw for ``weight``: float32 or float64, on the CPU."""
    return weight.device.type == "cpu" and weight.dtype in BITS


def draw_projection(
    streams: SeedStreams,
    rows: int,
    bounds: Sequence[tuple[float, float]],
    spans: np.ndarray,
    weight: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[`draw`][nalm.bench.tasks.streams.draw] of the next ``rows`` rows, returning x @ weight instead of x: h (S, rows, out)
    and the sums (S, rows, 2), for ``weight`` (S, columns, out), float32 or float64, on the CPU.

    h is differentiable with respect to ``weight`` (the gradient is x^T grad_h per seed, from the
    kept x), so a linear first layer trains without x ever reaching autograd.
    """
    n_seeds = len(streams.positions)
    if not projectable(weight) or weight.dim() != 3 or weight.shape[0] != n_seeds:
        raise ValueError(
            f"draw_projection needs a float32 or float64 CPU weight ({n_seeds}, columns, out), got "
            f"{weight.dtype} {tuple(weight.shape)} on {weight.device}"
        )
    spans = _check_spans(spans, n_seeds, weight.shape[1])
    return _Projection.apply(weight, streams.advance(rows, weight.shape[1]), rows, bounds, spans)


def uniforms(seed: int, stream: str, n: int) -> np.ndarray:
    """The first ``n`` values in [0, 1) of ``seed``'s ``stream``, float64, as [`draw`][nalm.bench.tasks.streams.draw] would make them.

    Drawn by PyTorch operations, as [`indices`][nalm.bench.tasks.streams.indices] draws (the same
    bits): a process that needs no compiled kernel starts none of their threads for these."""
    lows, starts, total = interval_arrays([(0.0, 1.0)])
    positions = SeedStreams([seed], stream).advance(1, n)
    x = _draw_on_device(positions, 1, n, BITS[torch.float64], lows, starts, total, torch.float64, torch.device("cpu"))
    return x.numpy()[0, 0]


def uniform_noise(streams: SeedStreams, like: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """The next values of every seed's stream as U[low, high) noise of ``like``'s shape (S, ...,
    columns), dtype and device: seed s's part, like[s], takes its stream's next rows of ``columns``
    values, whatever the other seeds are. Drawn by PyTorch operations, on ``like``'s device (32
    random bits a value in float64, 24 in float32 and the other dtypes, which are then rounded)."""
    n_seeds, columns = like.shape[0], like.shape[-1]
    if n_seeds != len(streams.positions):
        raise ValueError(
            f"noise for {len(streams.positions)} seeds needs a leading axis of that size, got {tuple(like.shape)}"
        )
    rows = like[0].numel() // columns
    native = _native(like.dtype)
    lows, starts, total = interval_arrays([(low, high)])
    x = _draw_on_device(
        streams.advance(rows, columns), rows, columns, BITS[native], lows, starts, total, native, like.device
    )
    return x.to(like.dtype).view(like.shape)


def indices(streams: SeedStreams, rows: int, columns: int, n: int) -> torch.Tensor:
    """The next ``rows`` rows of ``columns`` indices uniform in [0, n) of every seed's stream:
    (S, rows, columns) int64, each floor(n u) for a draw u with 32 random bits (so for n up to
    about 10^6 every index is as likely as another to 1 part in 4000).

    Drawn by PyTorch operations (`_draw_on_device` on the CPU), not by the compiled kernels:
    a process that calls the kernels' parallel code keeps OpenMP threads spinning after it (GNU
    OpenMP's default wait policy where threads <= cores), which slowed PyTorch's convolutions
    between draws 4x on our 2 cores.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 1 << 24:
        raise ValueError(f"n must be an integer in [1, {1 << 24}], got {n!r}")
    positions = streams.advance(rows, columns)
    lows, starts, total = interval_arrays([(0.0, float(n))])
    x = _draw_on_device(
        positions, rows, columns, BITS[torch.float64], lows, starts, total, torch.float64, torch.device("cpu")
    )
    return x.long().clamp_(max=n - 1)


def _numpy(dtype: torch.dtype) -> np.dtype:
    return torch.empty((), dtype=dtype).numpy().dtype


_started = False


def start_threads() -> None:
    """Start numba's threads (once per process) and keep PyTorch's thread count: with numba's
    OpenMP layer, their start sets the OpenMP thread count that PyTorch reads, and a PyTorch that
    was to run on one thread would run on numba's. Called before the first parallel kernel runs."""
    global _started
    if not _started:
        torch_threads = torch.get_num_threads()
        numba.get_num_threads()  # starts them
        torch.set_num_threads(torch_threads)
        _started = True


def set_threads(threads: int) -> int:
    """Let the kernels use ``threads`` threads (at most numba's configured maximum); return the old number."""
    start_threads()
    old = numba.get_num_threads()
    # numba.config sets NUMBA_NUM_THREADS at import, through globals(), where mypy cannot see it
    configured: int = getattr(numba.config, "NUMBA_NUM_THREADS")  # noqa: B009
    numba.set_num_threads(min(threads, configured))
    return old

"""The fixed-order sums against a plain Python reference of the order, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from nalm.bench.tasks.fixed_order import LANES, fixed_order_dot, row_sum


def reference_sum(terms: list, zero):
    """The documented order, one rounding per operation (numpy scalars): LANES partial sums of the
    terms i = j mod LANES, added pairwise, then the remaining terms in turn."""
    body = len(terms) - len(terms) % LANES
    sums = [zero] * LANES
    for i in range(body):
        sums[i % LANES] = sums[i % LANES] + terms[i]
    while len(sums) > 1:
        sums = [sums[j] + sums[j + 1] for j in range(0, len(sums), 2)]
    total = sums[0]
    for term in terms[body:]:
        total = total + term
    return total


@njit
def dots(U, W, out):
    for k in range(U.shape[0]):
        out[k] = fixed_order_dot(U[k], W, k)


@njit
def row_sums(rows, start, stop, out):
    for k in range(rows.shape[0]):
        out[k] = row_sum(rows[k], start, stop)


def awkward(shape, dtype, seed):
    """Values of every sign over many magnitudes, so that the order of the sums shows in the bits;
    a few zeros of either sign."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape) * 10.0 ** rng.integers(-12, 12, shape)
    values[rng.random(shape) < 0.05] = 0.0
    values[rng.random(shape) < 0.05] = -0.0
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 16, 25, 100, 203])
@pytest.mark.parametrize("strided", [False, True])
def test_the_dot_product_adds_in_the_documented_order(dtype, length, strided):
    U, W = awkward((40, length), dtype, 0), awkward((40, length), dtype, 1)
    if strided:  # every other element of a wider array: the element by element loads
        U, W = np.repeat(U, 2, axis=1)[:, ::2], np.repeat(W, 2, axis=1)[:, ::2]
    out = np.empty(40, dtype)
    dots(U, W, out)
    expected = [reference_sum(list(u * w), dtype(0)) for u, w in zip(U, W, strict=True)]
    assert out.tobytes() == np.array(expected, dtype).tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("start", "stop"), [(0, 0), (3, 3), (0, 25), (13, 38), (5, 100), (1, 8), (2, 11)])
@pytest.mark.parametrize("strided", [False, True])
def test_row_sums_add_float64_in_the_documented_order(dtype, start, stop, strided):
    rows = awkward((40, 100), dtype, 2)
    if strided:
        rows = np.repeat(rows, 2, axis=1)[:, ::2]
    out = np.empty(40)
    row_sums(rows, np.int32(start), np.int32(stop), out)  # the kernels' spans may be any integer type
    expected = [reference_sum([np.float64(v) for v in row[start:stop]], np.float64(0)) for row in rows]
    assert out.tobytes() == np.array(expected).tobytes()


def test_the_tail_is_added_after_the_partial_sums():
    """2^53 + 1 rounds back to 2^53 in float64 (a tie, to even), so the tail's ones vanish one by
    one after the partial sums; added to each other first they would make 2^53 + 2."""
    u = np.array([2.0**53, 0, 0, 0, 0, 0, 0, 0, 1, 1]).reshape(1, -1)
    out = np.empty(1)
    dots(u, np.ones_like(u), out)
    assert out[0] == 2.0**53


def test_infinities_and_nan_pass_through_as_ieee_arithmetic_has_them():
    U = np.ones((3, 16), np.float32)
    U[0, 3], U[1, 3], U[1, 4], U[2, 12] = np.inf, np.inf, -np.inf, np.nan
    out = np.empty(3, np.float32)
    dots(U, np.ones_like(U), out)
    assert out[0] == np.inf and np.isnan(out[1]) and np.isnan(out[2])


def test_a_dot_of_arrays_of_other_dtypes_is_refused_when_compiled():
    with pytest.raises(Exception, match="_dot_lanes"):
        dots(np.ones((1, 8), np.float32), np.ones((1, 8)), np.empty(1, np.float32))

"""The kernels' logarithm: the documented float32 steps bit for bit, within 1 ulp of the exact
logarithm, np.log at the edges and in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from nalm.bench.engine.vector_log import LOG2_HIGH, LOG2_LOW, POLYNOMIAL, SQRT_HALF, log_magnitudes


def reference_log(u: np.ndarray, eps: float) -> np.ndarray:
    """The module docstring's steps in NumPy float32, one rounding per operation (normal |u| + eps)."""
    f = np.float32
    magnitude = np.abs(u) + f(eps)
    bits = magnitude.view(np.int32)
    e = ((bits >> 23) & 0xFF).astype(f) - f(126)
    x = ((bits & np.int32(-0x7F800001)) | np.int32(0x3F000000)).view(f)
    below = (x < f(SQRT_HALF)).astype(f)
    x = (x + x * below) - f(1)
    e = e - below
    z = x * x
    y = np.full_like(x, f(POLYNOMIAL[0]))
    for coefficient in POLYNOMIAL[1:]:
        y = y * x + f(coefficient)
    y = ((y * x) * z + e * f(LOG2_LOW)) - f(0.5) * z
    return (x + y) + e * f(LOG2_HIGH)


def values(size: int, seed: int) -> np.ndarray:
    """float32 values of both signs over every normal magnitude, and the ends of the reduced range."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.uniform(-10, 10, size), 10.0 ** rng.uniform(-37, 38, size) * rng.choice([-1, 1], size)])
    ends = [3e38, 1.0, 2.0, 0.5, 0.70710677, 0.70710678, 0.70710684]
    return rng.permutation(np.concatenate([x, ends])).astype(np.float32)


@pytest.mark.parametrize("eps", [1e-7, 0.0])
@pytest.mark.parametrize("length", [*range(17), 100, 203, 20_007])
def test_float32_takes_the_documented_steps_bit_for_bit_whatever_the_length(eps, length):
    """Lengths that are no multiple of 8 end in a padded vector: each value's bits are its own."""
    u = values(max(length, 1), length)[:length]
    out = np.full_like(u, np.nan)
    log_magnitudes(u, np.float32(eps), out)
    assert out.view(np.int32).tolist() == reference_log(u, eps).view(np.int32).tolist()


def test_float32_is_within_one_ulp_and_takes_np_log_at_the_edges():
    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan]  # with eps = 1e-45: zero, subnormal, inf, NaN
    x = np.concatenate([rng.uniform(-10, 10, 100_000), 10.0 ** rng.uniform(-40, 38, 100_000), edges]).astype(np.float32)
    for eps in (1e-7, 1e-45):  # the second makes |x| + eps subnormal at zero
        got = np.empty_like(x)
        log_magnitudes(x, np.float32(eps), got)
        exact = np.log((np.abs(x) + np.float32(eps)).astype(np.float64))
        finite = np.isfinite(exact)
        ulp = np.spacing(np.abs(exact[finite]).astype(np.float32)).astype(np.float64)
        assert np.max(np.abs(got[finite] - exact[finite]) / ulp) <= 1.0
    edge = got[-len(edges) :]  # eps = 1e-45 here: none of these is a normal float32
    assert np.array_equal(edge, np.log(np.abs(x[-len(edges) :]) + np.float32(1e-45)), equal_nan=True)


def test_float64_takes_the_c_library_log():
    rng = np.random.default_rng(1)
    doubles = np.concatenate([rng.uniform(-10, 10, 10_000), [0.0, np.inf, np.nan]])
    got = np.empty_like(doubles)
    log_magnitudes(doubles, 1e-7, got)
    # the C library's log, as math.log (NumPy's own may differ in the last bit on CPUs where it
    # vectorizes its logarithm, AVX-512 ones among them)
    libm = [math.log(v) for v in np.abs(doubles) + 1e-7]  # |x| + eps > 0, inf or NaN
    assert np.array_equal(got, np.array(libm), equal_nan=True)


@njit
def _strided_log(u, out):
    log_magnitudes(u[::2], np.float32(1e-7), out)


def test_a_float32_vector_that_is_not_contiguous_is_refused_when_compiled():
    with pytest.raises(TypingError, match="contiguous"):
        _strided_log(np.ones(16, np.float32), np.empty(8, np.float32))


def test_a_float32_out_of_another_length_or_read_only_is_refused():
    u = np.ones(9, np.float32)
    with pytest.raises(ValueError, match="differ in length"):
        log_magnitudes(u, np.float32(1e-7), np.empty(8, np.float32))
    read_only = np.empty(9, np.float32)
    read_only.flags.writeable = False
    with pytest.raises(TypingError):
        log_magnitudes(u, np.float32(1e-7), read_only)

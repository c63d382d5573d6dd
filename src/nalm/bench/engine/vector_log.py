"""log(|u| + eps) of a vector, for the compiled kernels (numba): float32 eight values at a time.

float64 takes ``np.log``, the C library's logarithm. float32 takes a polynomial logarithm, within
1 ulp of the exact one: |u| + eps = m 2^e with m in [0.5, 1), moved to [sqrt(1/2), sqrt(2));
log(1 + x) = x - x^2 / 2 + x^3 P(x) for the degree-8 polynomial P of the Cephes library's logf;
plus e log(2), with log(2) split in two for precision. Zeros, subnormal numbers, inf and NaN take
``np.log``. The polynomial is written once, as LLVM vector code of ``LANES`` lanes: each lane
rounds every product and sum on its own (no fused multiply-add, no reordering), so the bits are
those of the same steps on one value, whatever the vector width of the CPU; the last n mod 8
values go through the same code in a vector padded with ones (one call for the 2 values of a
hidden layer, where a loop of numba's would take them one by one). This costs about 0.7 ns a value
on a long vector (``benchmarks/profile_static.py``); the C library's logf is not vectorized.

As for [`nalm.bench.tasks.fixed_order`][nalm.bench.tasks.fixed_order], numba's on-disk cache checks
only the file that defines a kernel: after editing this module, delete the cached kernels (the
``*.nbi`` and ``*.nbc`` files in ``src/nalm/bench/**/__pycache__``).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir  # numba's own code generator, installed (and pinned) with it
from numba import njit, types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

from nalm.bench.tasks.fixed_order import LANES

POLYNOMIAL = (
    7.0376836292e-2,
    -1.1514610310e-1,
    1.1676998740e-1,
    -1.2420140846e-1,
    1.4249322787e-1,
    -1.6668057665e-1,
    2.0000714765e-1,
    -2.4999993993e-1,
    3.3333331174e-1,
)
"""P's coefficients, highest power first (Horner's order), rounded to float32."""

LOG2_HIGH, LOG2_LOW = 0.693359375, -2.12194440e-4
"""log(2) = LOG2_HIGH + LOG2_LOW, the first exact in float32 with few bits."""

SQRT_HALF = 0.70710678
NORMAL = (1.17549435e-38, 3.40282347e38)
"""The smallest and largest normal float32: the magnitudes the polynomial takes."""

_F32, _I32 = ir.FloatType(), ir.IntType(32)
_VF, _VI = ir.VectorType(_F32, LANES), ir.VectorType(_I32, LANES)


def _floats(value: float) -> ir.Constant:
    return ir.Constant(_VF, [float(np.float32(value))] * LANES)


def _ints(value: int) -> ir.Constant:
    return ir.Constant(_VI, [value] * LANES)


def _log_vector(builder: ir.IRBuilder, u: ir.Value, eps: ir.Value) -> tuple[ir.Value, ir.Value]:
    """(log(|u| + eps), whether |u| + eps is a normal float32) of the lanes of u (<8 x float>),
    each step rounded as one float32 operation of the module's docstring."""
    magnitude = builder.fadd(builder.bitcast(builder.and_(builder.bitcast(u, _VI), _ints(0x7FFFFFFF)), _VF), eps)
    bits = builder.bitcast(magnitude, _VI)
    e = builder.fsub(builder.sitofp(builder.and_(builder.ashr(bits, _ints(23)), _ints(0xFF)), _VF), _floats(126))
    mantissa = builder.or_(builder.and_(bits, _ints(np.int32(np.uint32(0x807FFFFF)).item())), _ints(0x3F000000))
    x = builder.bitcast(mantissa, _VF)  # m, in [0.5, 1)
    below = builder.uitofp(builder.fcmp_ordered("<", x, _floats(SQRT_HALF)), _VF)  # m < sqrt(1/2): 2m, e - 1
    x = builder.fsub(builder.fadd(x, builder.fmul(x, below)), _floats(1))
    e = builder.fsub(e, below)
    z = builder.fmul(x, x)
    y = _floats(POLYNOMIAL[0])
    for coefficient in POLYNOMIAL[1:]:
        y = builder.fadd(builder.fmul(y, x), _floats(coefficient))
    y = builder.fadd(builder.fmul(builder.fmul(y, x), z), builder.fmul(e, _floats(LOG2_LOW)))
    y = builder.fsub(y, builder.fmul(_floats(0.5), z))
    log = builder.fadd(builder.fadd(x, y), builder.fmul(e, _floats(LOG2_HIGH)))
    normal = builder.and_(
        builder.fcmp_ordered(">=", magnitude, _floats(NORMAL[0])),
        builder.fcmp_ordered("<=", magnitude, _floats(NORMAL[1])),
    )
    return log, normal


@intrinsic
def _log_lanes(typingctx, u, eps, out):
    """out[:n] = log(|u| + eps) for contiguous float32 vectors u (n,) and out (at least n; unchecked)
    by the polynomial alone; True where every |u_i| + eps is a normal float32, so that nothing
    is left to redo."""
    if not (
        isinstance(u, types.Array)
        and isinstance(out, types.Array)
        and u.ndim == out.ndim == 1
        and u.layout == out.layout == "C"
        and out.mutable
        and u.dtype == out.dtype == eps == types.float32
    ):
        return None

    def codegen(context, builder, signature, args):
        u_type, _, out_type = signature.args
        u_array = context.make_array(u_type)(context, builder, args[0])
        u_data, size = u_array.data, cgutils.unpack_tuple(builder, u_array.shape, 1)[0]
        out_data = context.make_array(out_type)(context, builder, args[2]).data
        eps = builder.insert_element(ir.Constant(_VF, ir.Undefined), args[1], _I32(0))
        eps = builder.shuffle_vector(eps, ir.Constant(_VF, ir.Undefined), ir.Constant(_VI, [0] * LANES))
        flags = ir.VectorType(ir.IntType(1), LANES)
        all_normal = cgutils.alloca_once_value(builder, ir.Constant(flags, [1] * LANES))
        body = builder.sub(size, builder.srem(size, size.type(LANES)))

        def vector_at(data, i):
            return builder.bitcast(builder.gep(data, [i]), _VF.as_pointer())

        def note(normal):
            builder.store(builder.and_(builder.load(all_normal), normal), all_normal)

        with cgutils.for_range_slice(builder, size.type(0), body, size.type(LANES)) as (i, _):
            log, normal = _log_vector(builder, builder.load(vector_at(u_data, i), align=4), eps)
            builder.store(log, vector_at(out_data, i), align=4)
            note(normal)
        padded = cgutils.alloca_once_value(builder, _floats(1))  # the tail, in a vector of ones
        lanes = builder.bitcast(padded, _F32.as_pointer())
        with cgutils.for_range_slice(builder, body, size, size.type(1)) as (i, _):
            builder.store(builder.load(builder.gep(u_data, [i])), builder.gep(lanes, [builder.sub(i, body)]))
        log, normal = _log_vector(builder, builder.load(padded), eps)
        builder.store(log, padded)
        with cgutils.for_range_slice(builder, body, size, size.type(1)) as (i, _):
            builder.store(builder.load(builder.gep(lanes, [builder.sub(i, body)])), builder.gep(out_data, [i]))
        note(normal)
        lanes_normal = builder.load(all_normal)
        result = builder.extract_element(lanes_normal, _I32(0))
        for lane in range(1, LANES):
            result = builder.and_(result, builder.extract_element(lanes_normal, _I32(lane)))
        return result

    return types.boolean(u, eps, out), codegen


def log_into(u, eps, out):
    """out[:n] = log(|u| + eps) for u (n,), in compiled code only: `log_magnitudes` without its
    check of the lengths, for the kernels' parallel loops, whose buffers have u's length by construction: a
    ``raise`` in such a loop makes numba run the loop on one thread (and the array operations in
    it as parallel loops of their own, ten times slower in all). Inlined, it takes its caller's
    flags: the caller must be compiled without fast math, or the compiler may fuse or reorder the
    polynomial's steps (the kernels are compiled so, see
    [`ARITHMETIC`][nalm.bench.engine.compiled.ARITHMETIC])."""
    raise TypeError("log_into runs in compiled code only: from Python, call log_magnitudes")


@overload(log_into, jit_options={"fastmath": False, "error_model": "numpy"}, inline="always")
def _log_into_typed(u, eps, out):
    if out.dtype == types.float32:
        if not u.layout == out.layout == "C":
            raise TypingError("the float32 logarithm takes contiguous vectors")

        def float32_log(u, eps, out):
            eps = np.float32(eps)
            if not _log_lanes(u, eps, out):  # type: ignore[call-arg]  # redo those that are not normal float32s
                low, high = np.float32(NORMAL[0]), np.float32(NORMAL[1])
                for i in range(u.shape[0]):
                    magnitude = np.abs(u[i]) + eps
                    if not low <= magnitude <= high:
                        out[i] = np.log(magnitude)

        return float32_log

    def library_log(u, eps, out):
        for i in range(u.shape[0]):
            out[i] = np.log(np.abs(u[i]) + eps)

    return library_log


@njit(fastmath=False, error_model="numpy", cache=True, inline="always")
def log_magnitudes(u, eps, out):
    """out (n,) = log(|u| + eps) for a float vector u (n,) of out's dtype: float32 (contiguous
    vectors) by the polynomial of this module, eight values at a time, float64 by ``np.log``;
    an error where out's length is not u's. For callers outside the kernels' parallel loops (which
    call `log_into`); inlined into compiled code, it takes its caller's flags as `log_into` does."""
    if out.shape[0] != u.shape[0]:
        raise ValueError("log_magnitudes: u and out differ in length")
    log_into(u, eps, out)

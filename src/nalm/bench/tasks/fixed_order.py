"""Sums in one order on every CPU, for the compiled kernels (numba).

A sum over n terms is added in ``LANES`` = 8 partial sums (sum j takes the terms i = j mod 8 in
turn, up to the last multiple of 8), which are then added pairwise,
((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), and the remaining terms follow in turn. Every
product and sum is rounded on its own (no fused multiply-add): the kernels are compiled without
fast math, so the compiler may not reorder any of it, and the numbers do not depend on the vector
width of the CPU the kernels were compiled for.

The 8 partial sums are one vector of 8 lanes in the code the compiler gets (LLVM's ``<8 x float>``
or ``<8 x double>``): a vector add rounds each lane as the scalar add would, so the order stays
the one above, while the CPU adds the 8 lanes in one or two instructions where it has the vector
width (AVX2, AVX-512) and in narrower pieces where it has not (SSE2: 4 or 2 lanes at a time).

The kernels that use these functions inline them, and numba's on-disk cache checks only the file
that defines a kernel: after editing this module, delete the cached kernels (the ``*.nbi`` and
``*.nbc`` files in ``src/nalm/bench/**/__pycache__``) or they keep the earlier code.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir  # numba's own code generator, installed (and pinned) with it
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 8
"""The partial sums of [`fixed_order_dot`][nalm.bench.tasks.fixed_order.fixed_order_dot] and
[`row_sum`][nalm.bench.tasks.fixed_order.row_sum]."""

_FLOATS = (types.float32, types.float64)


def _vector_loader(context, builder, array_type, array, start, row=None) -> Callable[[ir.Value], ir.Value]:
    """A function of the index i that loads array[start + i : start + i + LANES] (a 1-d array) or
    array[row, start + i : start + i + LANES] (a 2-d one) as one vector: one load where the
    elements are contiguous, element by element through their stride elsewhere."""
    element = context.get_value_type(array_type.dtype)
    vector = ir.VectorType(element, LANES)
    view = context.make_array(array_type)(context, builder, array)
    strides = cgutils.unpack_tuple(builder, view.strides, array_type.ndim)
    stride = strides[-1]
    base = builder.bitcast(view.data, ir.IntType(8).as_pointer())
    if row is not None:
        base = builder.gep(base, [builder.mul(row, strides[0])])
    align = context.get_abi_sizeof(element) if array_type.aligned else 1

    def address(index: ir.Value) -> ir.Value:
        return builder.gep(base, [builder.mul(builder.add(start, index), stride)])

    def load(i: ir.Value) -> ir.Value:
        if array_type.layout == "C":
            return builder.load(builder.bitcast(address(i), vector.as_pointer()), align=align)
        lanes = ir.Constant(vector, ir.Undefined)
        for j in range(LANES):
            pointer = builder.bitcast(address(builder.add(i, i.type(j))), element.as_pointer())
            value = builder.load(pointer, align=align)
            lanes = builder.insert_element(lanes, value, ir.IntType(32)(j))
        return lanes

    return load


def _lane_sum(builder, count: ir.Value, accumulator: ir.VectorType, term: Callable[[ir.Value], ir.Value]) -> ir.Value:
    """Emit sum over i = 0, LANES, 2 LANES, ... < count of the vectors term(i), lane by lane from
    zero, and return the lanes added pairwise."""
    entry = builder.block
    loop = builder.append_basic_block("lanes.loop")
    add = builder.append_basic_block("lanes.add")
    done = builder.append_basic_block("lanes.done")
    builder.branch(loop)
    builder.position_at_end(loop)
    i = builder.phi(count.type)
    total = builder.phi(accumulator)
    i.add_incoming(count.type(0), entry)
    total.add_incoming(ir.Constant(accumulator, None), entry)
    builder.cbranch(builder.icmp_signed("<", i, count), add, done)
    builder.position_at_end(add)
    added = builder.fadd(total, term(i))
    following = builder.add(i, count.type(LANES))
    i.add_incoming(following, builder.block)  # the block that term(i) ended in
    total.add_incoming(added, builder.block)
    builder.branch(loop)
    builder.position_at_end(done)
    sums = [builder.extract_element(total, ir.IntType(32)(j)) for j in range(LANES)]
    while len(sums) > 1:
        sums = [builder.fadd(sums[j], sums[j + 1]) for j in range(0, len(sums), 2)]
    return sums[0]


@intrinsic
def _dot_lanes(typingctx, u, W, k, count):
    """sum_i u[i] W[k, i] over i < count (a multiple of LANES), in u's dtype, in the lanes' order."""
    if not (
        isinstance(u, types.Array)
        and isinstance(W, types.Array)
        and u.ndim == 1
        and W.ndim == 2
        and u.dtype == W.dtype
        and u.dtype in _FLOATS
        and isinstance(k, types.Integer)
        and isinstance(count, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        u_type, w_type, k_type, count_type = signature.args
        start = context.get_constant(types.intp, 0)
        row = context.cast(builder, args[2], k_type, types.intp)
        load_u = _vector_loader(context, builder, u_type, args[0], start)
        load_w = _vector_loader(context, builder, w_type, args[1], start, row)
        count = context.cast(builder, args[3], count_type, types.intp)
        accumulator = ir.VectorType(context.get_value_type(u_type.dtype), LANES)
        return _lane_sum(builder, count, accumulator, lambda i: builder.fmul(load_u(i), load_w(i)))

    return u.dtype(u, W, k, count), codegen


@intrinsic
def _sum_lanes(typingctx, row, start, count):
    """sum_i float64(row[start + i]) over i < count (a multiple of LANES), in the lanes' order."""
    if not (
        isinstance(row, types.Array)
        and row.ndim == 1
        and row.dtype in _FLOATS
        and isinstance(start, types.Integer)
        and isinstance(count, types.Integer)
    ):
        return None

    def codegen(context, builder, signature, args):
        row_type, start_type, count_type = signature.args
        first = context.cast(builder, args[1], start_type, types.intp)
        load = _vector_loader(context, builder, row_type, args[0], first)
        count = context.cast(builder, args[2], count_type, types.intp)
        accumulator = ir.VectorType(ir.DoubleType(), LANES)
        if row_type.dtype == types.float64:
            return _lane_sum(builder, count, accumulator, load)
        return _lane_sum(builder, count, accumulator, lambda i: builder.fpext(load(i), accumulator))

    return types.float64(row, start, count), codegen


@njit(inline="always")
def fixed_order_dot(u, W, k):
    """sum_i u[i] W[k, i] of a float vector u (n,) and row k of a matrix W (rows, n) of u's dtype,
    in that dtype, in the order of this module: 8 partial sums, added pairwise, then the
    remaining terms in turn, for 0 <= k < rows and W at least n wide (unchecked: no negative
    k). (A row given as W and k, not as W[k]: a view made per call costs more than the sum, for
    numba counts its references.)"""
    body = u.shape[0] - u.shape[0] % LANES
    total = _dot_lanes(u, W, k, body)  # type: ignore[call-arg,var-annotated]  # numba adds the typing context
    for i in range(body, u.shape[0]):
        total += u[i] * W[k, i]
    return total


@njit(inline="always")
def row_sum(row, start, stop):
    """sum(row[start:stop]) in float64 for 0 <= start <= stop <= len(row) (unchecked: no
    negative indices), in the order of this module (as
    [`fixed_order_dot`][nalm.bench.tasks.fixed_order.fixed_order_dot] sums)."""
    body = stop - (stop - start) % LANES
    total = _sum_lanes(row, start, body - start)  # type: ignore[call-arg,var-annotated]
    for j in range(body, stop):
        total += row[j]
    return total

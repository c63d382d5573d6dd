"""Training steps compiled whole: draw, forward, backward, penalty, Adam and clamp in one kernel.

For the benchmark's models whose layers it knows (NAU, NMU, NAC, NAC•, NALU, the dense
baselines, and NMRU, sign NMRU and tied sign NMRU as the last layer, see [`plan`][nalm.bench.engine.compiled.plan]), one numba kernel runs many training steps of many seeds, each seed
on its own thread of the parallel loop and all its state in cache: it draws a row of x
([`nalm.bench.tasks.streams`][nalm.bench.tasks.streams]), runs it through both layers, takes the gradient of the squared error
by hand, and after the batch adds the sparsity penalty's gradient, clips each seed's gradient
where the training asks for it (as [`nalm.bench.engine.stacking.clip_seed_gradients`][nalm.bench.engine.stacking.clip_seed_gradients]), applies Adam (PyTorch's
update rule) and clamps the weights. Python is entered once per evaluation, not once per step,
and no seed's numbers depend on the seeds beside it.

The hand-written gradients are those of the formulas in [`nalm.functional`][nalm.functional]; the tests pin
them to PyTorch's autograd of those formulas (one step in float64, every supported layer) and
the whole runs to the PyTorch engine of [`nalm.bench.engine.loop`][nalm.bench.engine.loop].

Layer ops (``kind[0]``) on an input u (n_in,) with effective weight W and gate G (n_in, n_out):
``MATMUL`` z = act(u W + b) (b: the layer's bias, where ``kind[4]`` says it has one); ``PRODUCT`` the NMU, z_k = prod_i (W_ik u_i + 1 - W_ik);
``EXP_LOG`` NAC•, z = exp(min(log(|u| + eps) W, e_max)); ``NALU`` z = g a + (1 - g) m with
a = u W, m = exp(min(log(|u| + eps) W, e_max)), g = sigmoid(u G); ``RECIPROCAL`` the NMRU, the
NMU's product over u' = [u, 1/(u + eps)] (training; 1/u at evaluation), W (2 n_in, n_out);
``SIGN_RECIPROCAL`` the sign NMRU, prod_j (|u'_j| W_jk + 1 - W_jk) cos(pi sum_j [u'_j < 0] W_jk),
with its W in [0, 1] (where the unit's clamp keeps it, so the raw and the clamped W agree). Weights (``kind[1]``):
``PLAIN`` W = clamp(P0, low, high) (full gradient on the bounds), ``NAC`` W = tanh(P0) sigmoid(P1),
``TIED`` (the tied sign NMRU's) the rows [w+; w-] = [clip(w, 0, 1); clip(-w, 0, 1)] of w = clamp(P0, low, high).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, TypedDict, cast

import numpy as np
import torch
from numba import njit, prange
from torch import nn

from nalm.bench.engine.problem import Scores
from nalm.bench.engine.vector_log import log_into
from nalm.bench.models.static import Dense
from nalm.bench.tasks.fixed_order import fixed_order_dot, row_sum
from nalm.bench.tasks.static import OPERATIONS, Range, StaticArithmeticTask, intervals
from nalm.bench.tasks.streams import BITS, SeedStreams, draws_per_row, fill_row, interval_arrays, start_threads
from nalm.functional import RECIPROCAL_EPS
from nalm.torch import NAC, NALU, NAU, NMRU, NMU, NACMul, SignNMRU, TiedSignNMRU

OP_NONE, OP_MATMUL, OP_PRODUCT, OP_EXP_LOG, OP_NALU, OP_RECIPROCAL, OP_SIGN_RECIPROCAL = 0, 1, 2, 3, 4, 5, 6
WEIGHT_PLAIN, WEIGHT_NAC, WEIGHT_TIED = 0, 1, 2
ACT_NONE, ACT_RELU, ACT_RELU6 = 0, 1, 2
ARITHMETIC = "fixed-order-1"
"""The version of the kernels' arithmetic, recorded with each run (in its checkpoint and its rows'
``ran_with``): every sum in the order the code writes it
([`nalm.bench.tasks.fixed_order`][nalm.bench.tasks.fixed_order]), compiled without fast math, so that
a run's numbers do not depend on the CPU. Rows without it ran kernels that let the compiler
reorder sums for the CPU's vector width: rerun on another CPU, they may differ in the last bits."""
OPERATION_CODES = {name: code for code, name in enumerate(OPERATIONS)}
"""The task's operations as the kernels number them (add 0, sub 1, mul 2, div 3, square 4, sqrt 5)."""


class _JitOptions(TypedDict, total=False):
    """The keyword arguments of ``njit`` the kernels share, typed as numba's ``njit`` takes them."""

    fastmath: bool | set[str]
    error_model: Literal["python", "numpy"]
    cache: bool
    inline: Literal["never", "always"]


_NJIT: _JitOptions = {"fastmath": False, "error_model": "numpy", "cache": True}  # see ARITHMETIC
_INLINE: _JitOptions = {**_NJIT, "inline": "always"}  # helpers: no calls (and no reference counting) per row


@njit(error_model="numpy", cache=True, inline="always")
def _target(code, a, b):
    """a op b in float64, op numbered as [`OPERATION_CODES`][nalm.bench.engine.compiled.OPERATION_CODES]."""
    if code == 0:
        return a + b
    if code == 1:
        return a - b
    if code == 2:
        return a * b
    if code == 3:
        return a / b
    if code == 4:
        return a * a
    return np.sqrt(a)


@njit(**_INLINE)
def _factor(w, u):
    """One factor of the NMU, w u + (1 - w), rounded as [`nalm.functional.selective_product`][nalm.functional.selective_product] does."""
    return w * u + (1 - w)


@njit(**_INLINE)
def _weights(kind, num, P, Wt, Gt, Dt):
    """Wt[k, i] = the layer's effective weight (i, k), Gt[k, i] its gate, from the raw P (3, in, out)
    (tied weights: Wt[k, i] = w+ and Wt[k, in + i] = w- of P0[i, k]); for NAC weights also Dt[0, k, i] = d W / d P0 and Dt[1, k, i] = d W / d P1 (for `_raw_gradients`),
    from the same tanh as W in the working dtype, as PyTorch's autograd takes them."""
    low, high = P.dtype.type(num[0]), P.dtype.type(num[1])
    zero, one = P.dtype.type(0), P.dtype.type(1)
    for i in range(P.shape[1]):
        for k in range(P.shape[2]):
            if kind[1] == WEIGHT_NAC:  # W = tanh(P0) sigmoid(P1)
                tanh_w, denominator = np.tanh(P[0, i, k]), 1 + np.exp(-P[1, i, k])
                Wt[k, i] = tanh_w / denominator
                sigmoid_m = one / denominator
                Dt[0, k, i] = sigmoid_m * (one - tanh_w * tanh_w)
                Dt[1, k, i] = tanh_w * sigmoid_m * (one - sigmoid_m)
            elif kind[1] == WEIGHT_TIED:
                w = min(max(P[0, i, k], low), high)
                Wt[k, i] = min(max(w, zero), one)
                Wt[k, P.shape[1] + i] = min(max(-w, zero), one)
            else:
                Wt[k, i] = min(max(P[0, i, k], low), high)
            Gt[k, i] = P[2, i, k]


@njit(**_INLINE)
def _add_scaled(Y, k, u, d):
    """Y[k] += u * d for a matrix Y, a vector u and a scalar d."""
    for i in range(u.shape[0]):
        Y[k, i] += u[i] * d


@njit(**_INLINE)
def _reciprocal_product(u2, W, k, signed):
    """(prod_{j < n} f_j) * (prod_{j >= n} f_j) over u2 = [u, 1/u] (2n,), f_j = w_j v_j + 1 - w_j with
    w = W[k] and v = u2 (signed) or |u2|: the two products of [`nalm.functional.nmru`][nalm.functional.nmru], in its order."""
    n = u2.shape[0] // 2
    first, second = u2.dtype.type(1), u2.dtype.type(1)
    for j in range(n):
        first *= _factor(W[k, j], u2[j] if signed else np.abs(u2[j]))
    for j in range(n, 2 * n):
        second *= _factor(W[k, j], u2[j] if signed else np.abs(u2[j]))
    return first * second


@njit(**_INLINE)
def _forward(kind, num, u, log_u, Wt, Gt, b, out, cache, training):
    """out (n_out,) = the layer of u (n_in,) (b (n_out,): the MATMUL op's bias, read where kind[4]
    is 1); cache (4, n_out) keeps (a or pre-activation, m, g, exponent); log_u gets log(|u| + eps)
    (n_in,) for the log-space ops, u' = [u, 1/(u + eps)] (2 n_in,) for the reciprocal ones, with
    eps = 0 where not ``training``."""
    op, act = kind[0], kind[2]
    zero, one, six = Wt.dtype.type(0), Wt.dtype.type(1), Wt.dtype.type(6)
    if op == OP_EXP_LOG or op == OP_NALU:
        log_into(u, Wt.dtype.type(num[2]), log_u)
    if op == OP_RECIPROCAL or op == OP_SIGN_RECIPROCAL:
        eps = Wt.dtype.type(num[2]) if training else zero
        n = u.shape[0]
        for i in range(n):
            log_u[i] = u[i]
            log_u[n + i] = one / (u[i] + eps)
    for k in range(Wt.shape[0]):
        if op == OP_RECIPROCAL or op == OP_SIGN_RECIPROCAL:
            product = _reciprocal_product(log_u, Wt, k, op == OP_RECIPROCAL)
            if op == OP_RECIPROCAL:
                out[k] = product
                continue
            pi = Wt.dtype.type(np.pi)  # pi [u'_j < 0] . W over u's rows (into cache[2, k]), then over 1/u's
            cache[2, k] = zero
            for j in range(n):
                cache[2, k] += (pi if log_u[j] < 0 else zero) * Wt[k, j]
            phase = zero
            for j in range(n, 2 * n):
                phase += (pi if log_u[j] < 0 else zero) * Wt[k, j]
            phase += cache[2, k]
            cache[1, k], cache[3, k] = product, phase
            out[k] = product * np.cos(phase)
            continue
        if op == OP_PRODUCT:
            product = one
            for i in range(u.shape[0]):
                product *= _factor(Wt[k, i], u[i])
            out[k] = product
            continue
        a = fixed_order_dot(u, Wt, k)
        if op == OP_MATMUL and kind[4]:
            a += b[k]
        cache[0, k] = a
        if op == OP_MATMUL:
            if act == ACT_RELU:
                a = max(a, zero)
            elif act == ACT_RELU6:
                a = min(max(a, zero), six)
            out[k] = a
            continue
        exponent = fixed_order_dot(log_u, Wt, k)
        cache[3, k] = exponent
        m = np.exp(min(exponent, Wt.dtype.type(num[3])))
        cache[1, k] = m
        if op == OP_EXP_LOG:
            out[k] = m
            continue
        q = fixed_order_dot(u, Gt, k)
        g = one / (one + np.exp(-q))
        cache[2, k] = g
        out[k] = g * a + (one - g) * m


@njit(**_INLINE)
def _backward(kind, num, u, log_u, spare, Wt, Gt, out, cache, grad_out, gWt, gGt, gb, grad_u, want_grad_u):
    """Add the layer's gradients for one row: gWt, gGt (n_out, n_in) += d out / d W, G and, where the
    layer has a bias, gb (n_out,) += d out / d b, times grad_out; with ``want_grad_u``, grad_u
    (n_in,) = d out / d u times grad_out (spare: scratch of W's rows)."""
    op, act = kind[0], kind[2]
    one = Wt.dtype.type(1)
    eps = Wt.dtype.type(num[2])
    if want_grad_u:
        grad_u[:] = 0
    for k in range(Wt.shape[0]):
        d = grad_out[k]
        if op == OP_RECIPROCAL or op == OP_SIGN_RECIPROCAL:
            _reciprocal_backward(op, log_u, Wt, k, cache, d, gWt, grad_u, want_grad_u, spare)
            continue
        if op == OP_PRODUCT:
            for i in range(u.shape[0]):  # the product of the other factors
                others = one
                for j in range(u.shape[0]):
                    if j != i:
                        others *= _factor(Wt[k, j], u[j])
                gWt[k, i] += d * others * (u[i] - one)
                if want_grad_u:
                    grad_u[i] += d * others * Wt[k, i]
            continue
        if op == OP_MATMUL:
            pre = cache[0, k]
            if (act == ACT_RELU and not pre > 0) or (act == ACT_RELU6 and not 0 < pre < 6):
                d = 0 * d
            if kind[4]:
                gb[k] += d
            _add_scaled(gWt, k, u, d)
            if want_grad_u:
                for i in range(u.shape[0]):
                    grad_u[i] += Wt[k, i] * d
            continue
        m = cache[1, k]
        if op == OP_NALU:
            g = cache[2, k]
            d_a = g * d
            d_exponent = (one - g) * d * m
            d_q = d * (cache[0, k] - m) * g * (one - g)
        else:
            d_a = 0 * d
            d_exponent = d * m
            d_q = 0 * d
        if not cache[3, k] <= num[3]:  # the exponent was capped: no gradient through it
            d_exponent = 0 * d
        _add_scaled(gWt, k, u, d_a)
        _add_scaled(gWt, k, log_u, d_exponent)
        if op == OP_NALU:
            _add_scaled(gGt, k, u, d_q)
        if want_grad_u:
            for i in range(u.shape[0]):
                magnitude = np.abs(u[i]) + eps
                log_grad = np.sign(u[i]) / magnitude
                grad_u[i] += Wt[k, i] * (d_a + d_exponent * log_grad) + Gt[k, i] * d_q


@njit(**_INLINE)
def _reciprocal_backward(op, u2, W, k, cache, d, gW, grad_u, want_grad_u, others):
    """The reciprocal ops' gradients for output k: gW[k] (2n,) += d out_k / d W[k] times d and, with
    ``want_grad_u``, grad_u (n,) += d out_k / d u times d, through u' = u2 = [u, 1/(u + eps)]
    (d u'_(n+i) / d u_i = -u'_(n+i)^2). cache: `_forward`'s cache (the sign NMRU's magnitude m
    and phase of output k in cache[1, k] and cache[3, k]); others (2n,): scratch, which gets the
    product of the other factors of each factor (the product before it times the one after it)."""
    one = u2.dtype.type(1)
    signed = op == OP_RECIPROCAL
    cosine, sine = one, u2.dtype.type(0)
    if not signed:
        cosine, sine = np.cos(cache[3, k]), np.sin(cache[3, k])
    size = u2.shape[0]
    before = one
    for j in range(size):
        others[j] = before
        before *= _factor(W[k, j], u2[j] if signed else np.abs(u2[j]))
    after = one
    for j in range(size - 1, -1, -1):
        others[j] *= after
        after *= _factor(W[k, j], u2[j] if signed else np.abs(u2[j]))
    n = size // 2
    for j in range(size):
        v = u2[j] if signed else np.abs(u2[j])
        gW[k, j] += d * cosine * others[j] * (v - one)
        if not signed and u2[j] < 0:
            gW[k, j] -= d * cache[1, k] * sine * u2.dtype.type(np.pi)
        if want_grad_u:
            grad_v = d * cosine * others[j] * W[k, j] * (one if signed else np.sign(u2[j]))
            grad_u[j % n] += grad_v if j < n else -grad_v * u2[j] * u2[j]


@njit(**_INLINE)
def _sparsity(kind, Wt):
    """mean(min(|W|, 1 - |W|)) over every entry, float64 (tied weights: over w, one of whose halves
    w+, w- is 0 and adds nothing)."""
    total = 0.0
    for k in range(Wt.shape[0]):
        for i in range(Wt.shape[1]):
            magnitude = abs(np.float64(Wt[k, i]))
            total += min(magnitude, 1 - magnitude)
    return total / (Wt.size // 2 if kind[1] == WEIGHT_TIED else Wt.size)


@njit(**_INLINE)
def _raw_gradients(kind, num, P, Wt, Dt, gWt, gGt, gP, strength):
    """Add the penalty ``strength`` * mean(min(|W|, 1 - |W|)) to the weight gradient and carry it to
    the raw P (3, in, out) (NAC weights: through Dt of `_weights`) into gP (P's shape)."""
    dtype = P.dtype.type
    low, high, zero = dtype(num[0]), dtype(num[1]), dtype(0)
    tied = kind[1] == WEIGHT_TIED
    penalty = dtype(strength / (P.shape[1] * P.shape[2] if tied else Wt.size))
    for i in range(P.shape[1]):
        for k in range(P.shape[2]):
            if tied:  # w+ = clip(w, 0, 1) passes w's gradient where w >= 0, w- = clip(-w, 0, 1) where w <= 0
                w = min(max(P[0, i, k], low), high)
                grad_w = (gWt[k, i] if w >= 0 else zero) - (gWt[k, P.shape[1] + i] if w <= 0 else zero)
            else:
                w, grad_w = Wt[k, i], gWt[k, i]
            if strength != 0:  # d/dW min(|W|, |1 - |W||): sign(W) below 1/2, -sign(W) above, 0 at 1/2 and at 1
                magnitude = abs(w)
                distance = dtype(1) - magnitude
                if magnitude < abs(distance):
                    grad_w += penalty * np.sign(w)
                elif magnitude > abs(distance):
                    grad_w -= penalty * np.sign(w) * np.sign(distance)
            if kind[1] == WEIGHT_NAC:  # d W / d P0 and d W / d P1, from the raw weights before this update
                gP[0, i, k] = grad_w * Dt[0, k, i]
                gP[1, i, k] = grad_w * Dt[1, k, i]
            else:  # a clamped weight outside its bounds has no gradient
                gP[0, i, k] = grad_w if low <= P[0, i, k] <= high else dtype(0)
            gP[2, i, k] = gGt[k, i]


@njit(**_INLINE)
def _squared_norm(kind, gP, gb):
    """The squared L2 norm, float64, of a layer's gradient: its raw parameters' (kind[3] of the
    slots of gP) and its bias's, where it has one."""
    total = 0.0
    for p in range(kind[3]):
        for g in gP[p].reshape(-1):
            total += np.float64(g) * np.float64(g)
    if kind[4]:
        for g in gb:
            total += np.float64(g) * np.float64(g)
    return total


@njit(**_INLINE)
def _scale_gradient(kind, gP, gb, scale):
    """gP's used slots and gb (where the layer has a bias) times ``scale``."""
    for p in range(kind[3]):
        flat = gP[p].reshape(-1)
        for j in range(flat.shape[0]):
            flat[j] *= scale
    if kind[4]:
        for j in range(gb.shape[0]):
            gb[j] *= scale


@njit(**_INLINE)
def _adam_steps(kind, num, P, M, V, B, BM, BV, gP, gb, step, adam):
    """One Adam step (`_adam`) of each raw parameter of P (3, in, out) with gradient gP, P0 clamped
    after it (plain weights); where the layer has a bias, one Adam step of B (n_out,) (moments
    BM, BV) with gradient gb, unclamped."""
    low, high = P.dtype.type(num[0]), P.dtype.type(num[1])
    for p in range(kind[3]):  # plain weights have one raw parameter (kind[3] == 1): their gP[1] is never read
        clamp = p == 0 and kind[1] != WEIGHT_NAC
        _adam(P[p].reshape(-1), gP[p].reshape(-1), M[p].reshape(-1), V[p].reshape(-1), clamp, low, high, step, adam)
    if kind[4]:
        _adam(B, gb, BM, BV, False, low, high, step, adam)


@njit(**_INLINE)
def _adam(value, grad, M, V, clamp, low, high, step, adam):
    """One Adam step (PyTorch's rule) of the flat parameters ``value`` with gradient ``grad`` and
    moments M, V, clamped to [low, high] with ``clamp``: one plain loop, so that it vectorizes."""
    dtype = value.dtype.type
    lr, beta1, beta2, adam_eps = adam[0], adam[1], adam[2], adam[3]
    step_size = dtype(lr / (1 - beta1**step))
    root_correction = dtype(math.sqrt(1 - beta2**step))
    one_minus_beta1, beta2_, one_minus_beta2, eps = dtype(1 - beta1), dtype(beta2), dtype(1 - beta2), dtype(adam_eps)
    for j in range(value.shape[0]):
        g = grad[j]
        m = M[j] + one_minus_beta1 * (g - M[j])
        v = beta2_ * V[j] + one_minus_beta2 * g * g
        M[j], V[j] = m, v
        updated = value[j] - step_size * m / (np.sqrt(v) / root_correction + eps)
        if clamp:
            updated = min(max(updated, low), high)
        value[j] = updated


@njit(**_INLINE)
def _draw_row(row, position, bits, lows, starts, total, span, code):
    """Fill ``row`` from the stream at ``position``; return the target a op b in the row's dtype."""
    fill_row(row, position, bits, lows, starts, total)
    a = row_sum(row, span[0], span[1])
    b = row_sum(row, span[2], span[3])
    return row.dtype.type(_target(code, a, b))


@njit(**_INLINE)
def _second_sizes(kind2, weight_rows):
    """(effective weight rows, hidden size) of a second layer of ``weight_rows`` raw weight rows:
    tied weights stand for twice their rows, the reciprocal ops' rows are [h; 1/h]."""
    rows = weight_rows * (2 if kind2[1] == WEIGHT_TIED else 1)
    return rows, rows // 2 if kind2[0] == OP_RECIPROCAL or kind2[0] == OP_SIGN_RECIPROCAL else rows


@njit(parallel=True, **_NJIT)
def _train_steps(data, first, second, run):
    """Train every alive seed s for len(first.strengths) steps from ``run.first_step`` on: batches of
    ``run.batch`` rows from its stream at data.positions[s] (a [`StreamRecord`][nalm.bench.engine.compiled.StreamRecord]); layer 1
    (a [`LayerRecord`][nalm.bench.engine.compiled.LayerRecord]: raw weights P (S, 3, in, hidden), Adam moments M, V, bias B (S, hidden)
    with moments BM, BV, penalty strength by step) then layer 2 (likewise, (S, 3, hidden, 1) and
    (S, 1)). A layer 1 of op OP_NONE passes x through. Each seed's gradient is clipped to an L2
    norm of run.clip where that is finite. run.losses[s, t] = the MSE plus the penalties; a seed
    whose MSE is not finite gets run.diverged_at[s] = its step, and run.alive[s] = False after
    that step's update ([`StepRecord`][nalm.bench.engine.compiled.StepRecord])."""
    # One local per field, each bound by its own statement: arrays written through a tuple's
    # unpacking (or through an attribute inside the parallel loop) lose their writes in numba's parfors.
    positions = data.positions
    per_row = data.per_row
    bits = data.bits
    lows = data.lows
    starts = data.starts
    total = data.total
    spans = data.spans
    code = data.code
    kind1 = first.kind
    num1 = first.numbers
    P1 = first.P
    M1 = first.M
    V1 = first.V
    B1 = first.B
    BM1 = first.BM
    BV1 = first.BV
    lam1 = first.strengths
    kind2 = second.kind
    num2 = second.numbers
    P2 = second.P
    M2 = second.M
    V2 = second.V
    B2 = second.B
    BM2 = second.BM
    BV2 = second.BV
    lam2 = second.strengths
    batch = run.batch
    first_step = run.first_step
    adam = run.adam
    clip = run.clip
    alive = run.alive
    diverged_at = run.diverged_at
    losses = run.losses
    rows2, hidden = _second_sizes(kind2, P2.shape[2])
    n_x = P1.shape[2] if kind1[0] != OP_NONE else hidden
    for s in prange(P2.shape[0]):
        if not alive[s]:
            continue
        dtype = P2.dtype.type
        x, log_x, grad_x = np.empty(n_x, P2.dtype), np.empty(n_x, P2.dtype), np.empty(n_x, P2.dtype)
        h, log_h, grad_h = np.empty(hidden, P2.dtype), np.empty(rows2, P2.dtype), np.empty(hidden, P2.dtype)
        others = np.empty(rows2, P2.dtype)  # scratch of the reciprocal ops' backward (layer 2 only, see plan)
        z, grad_z = np.empty(1, P2.dtype), np.empty(1, P2.dtype)
        cache1, cache2 = np.zeros((4, hidden), P2.dtype), np.zeros((4, 1), P2.dtype)
        W1t, G1t = np.empty((P1.shape[3], P1.shape[2]), P2.dtype), np.empty((P1.shape[3], P1.shape[2]), P2.dtype)
        gW1t, gG1t, D1t = np.empty_like(W1t), np.empty_like(W1t), np.empty((2, *W1t.shape), P2.dtype)
        W2t, G2t = np.empty((1, rows2), P2.dtype), np.empty((1, rows2), P2.dtype)
        gW2t, gG2t, D2t = np.empty_like(W2t), np.empty_like(W2t), np.empty((2, 1, rows2), P2.dtype)
        gP1, gP2 = np.empty_like(P1[s]), np.empty_like(P2[s])
        gb1, gb2 = np.empty(hidden, P2.dtype), np.empty(1, P2.dtype)
        position = positions[s]
        span = spans[s]  # the seed's rows of read-only arrays, once (not a view per row)
        b1 = B1[s]
        b2 = B2[s]
        for t in range(lam1.shape[0]):
            step = first_step + t
            if kind1[0] != OP_NONE:
                _weights(kind1, num1, P1[s], W1t, G1t, D1t)
                gW1t[:], gG1t[:], gb1[:] = 0, 0, 0
            _weights(kind2, num2, P2[s], W2t, G2t, D2t)
            gW2t[:], gG2t[:], gb2[:] = 0, 0, 0
            squared = 0.0
            scale = dtype(2.0 / batch)
            for _ in range(batch):
                target = _draw_row(x, position, bits, lows, starts, total, span, code)
                position += np.uint64(per_row)
                if kind1[0] != OP_NONE:
                    _forward(kind1, num1, x, log_x, W1t, G1t, b1, h, cache1, True)
                else:
                    h[:] = x
                _forward(kind2, num2, h, log_h, W2t, G2t, b2, z, cache2, True)
                error = z[0] - target
                squared += np.float64(error * error)
                grad_z[0] = scale * error
                _backward(
                    kind2,
                    num2,
                    h,
                    log_h,
                    others,
                    W2t,
                    G2t,
                    z,
                    cache2,
                    grad_z,
                    gW2t,
                    gG2t,
                    gb2,
                    grad_h,
                    kind1[0] != OP_NONE,
                )
                if kind1[0] != OP_NONE:
                    _backward(
                        kind1, num1, x, log_x, others, W1t, G1t, h, cache1, grad_h, gW1t, gG1t, gb1, grad_x, False
                    )
            mse = squared / batch
            loss = mse + lam2[t] * _sparsity(kind2, W2t)
            _raw_gradients(kind2, num2, P2[s], W2t, D2t, gW2t, gG2t, gP2, lam2[t])
            if kind1[0] != OP_NONE:
                loss += lam1[t] * _sparsity(kind1, W1t)
                _raw_gradients(kind1, num1, P1[s], W1t, D1t, gW1t, gG1t, gP1, lam1[t])
            if clip < np.inf:  # torch.nn.utils.clip_grad_norm_ on the seed's gradient
                norm = _squared_norm(kind2, gP2, gb2)
                if kind1[0] != OP_NONE:
                    norm += _squared_norm(kind1, gP1, gb1)
                scale = dtype(min(1.0, clip / (math.sqrt(norm) + 1e-6)))
                _scale_gradient(kind2, gP2, gb2, scale)
                if kind1[0] != OP_NONE:
                    _scale_gradient(kind1, gP1, gb1, scale)
            _adam_steps(kind2, num2, P2[s], M2[s], V2[s], B2[s], BM2[s], BV2[s], gP2, gb2, step, adam)
            if kind1[0] != OP_NONE:
                _adam_steps(kind1, num1, P1[s], M1[s], V1[s], B1[s], BM1[s], BV1[s], gP1, gb1, step, adam)
            losses[s, t] = loss
            if not np.isfinite(mse):
                diverged_at[s] = step
                alive[s] = False
                break


@njit(parallel=True, **_NJIT)
def _squared_errors(data, rows, first, second, out):
    """out[s] = the sum over ``rows`` rows of seed s's stream (``data``, a [`StreamRecord`][nalm.bench.engine.compiled.StreamRecord]) of
    (model output - target)^2, float64 (layers as `_train_steps` has them)."""
    positions = data.positions  # one statement each, as in _train_steps
    per_row = data.per_row
    bits = data.bits
    lows = data.lows
    starts = data.starts
    total = data.total
    spans = data.spans
    code = data.code
    kind1, num1, P1, B1 = first.kind, first.numbers, first.P, first.B  # read only
    kind2, num2, P2, B2 = second.kind, second.numbers, second.P, second.B
    rows2, hidden = _second_sizes(kind2, P2.shape[2])
    n_x = P1.shape[2] if kind1[0] != OP_NONE else hidden
    for s in prange(P2.shape[0]):
        x, log_x = np.empty(n_x, P2.dtype), np.empty(n_x, P2.dtype)
        h, log_h, z = np.empty(hidden, P2.dtype), np.empty(rows2, P2.dtype), np.empty(1, P2.dtype)
        cache1, cache2 = np.zeros((4, hidden), P2.dtype), np.zeros((4, 1), P2.dtype)
        W1t, G1t = np.empty((P1.shape[3], P1.shape[2]), P2.dtype), np.empty((P1.shape[3], P1.shape[2]), P2.dtype)
        W2t, G2t = np.empty((1, rows2), P2.dtype), np.empty((1, rows2), P2.dtype)
        D1t, D2t = np.empty((2, *W1t.shape), P2.dtype), np.empty((2, 1, rows2), P2.dtype)
        if kind1[0] != OP_NONE:
            _weights(kind1, num1, P1[s], W1t, G1t, D1t)
        _weights(kind2, num2, P2[s], W2t, G2t, D2t)
        total_error = 0.0
        span = spans[s]  # once per seed, as in _train_steps
        b1 = B1[s]
        b2 = B2[s]
        for r in range(rows):
            target = _draw_row(x, positions[s] + np.uint64(r * per_row), bits, lows, starts, total, span, code)
            if kind1[0] != OP_NONE:
                _forward(kind1, num1, x, log_x, W1t, G1t, b1, h, cache1, False)
            else:
                h[:] = x
            _forward(kind2, num2, h, log_h, W2t, G2t, b2, z, cache2, False)
            error = z[0] - target
            total_error += np.float64(error * error)
        out[s] = total_error


# --- Which layers the kernels know -------------------------------------------------------------


@dataclass(frozen=True)
class LayerPlan:
    """One layer as the kernels run it: ``kind`` (op, weight, activation, raw parameters, 1 if it
    has a bias), ``numbers`` (low, high, eps, max exponent), its raw parameters in slot order (P0,
    P1, G), the strength of its sparsity penalty by step and its bias, (S, 1, out), if it has one."""

    kind: tuple[int, int, int, int, int]
    numbers: tuple[float, float, float, float]
    parameters: tuple[nn.Parameter, ...]
    strength: Callable[[int], float] | None = None
    bias: nn.Parameter | None = None

    def all_parameters(self) -> tuple[nn.Parameter, ...]:
        """The raw parameters and the bias, where there is one."""
        return self.parameters if self.bias is None else (*self.parameters, self.bias)


def layer_plan(layer: nn.Module) -> LayerPlan | None:
    """The kernels' plan for ``layer``, or None if they do not run it (another unit, other options)."""
    inf = math.inf
    kind = type(layer)
    # A unit's options are plain attributes, which nn.Module types as Tensor | Module: each is cast
    # to the type its definition gives it (nalm.units), once ``kind`` says which unit it is.
    if kind is NAU or kind is NMU:
        op = OP_MATMUL if kind is NAU else OP_PRODUCT
        weight_range = cast(tuple[float, float], layer.weight_range)
        schedule = cast(Callable[[int], float], layer.schedule)
        return LayerPlan((op, WEIGHT_PLAIN, ACT_NONE, 1, 0), (*weight_range, 0.0, inf), _raw(layer, "W"), schedule)
    if kind is NMRU or kind is SignNMRU:
        op = OP_RECIPROCAL if kind is NMRU else OP_SIGN_RECIPROCAL
        low, high = cast(tuple[float, float], layer.weight_range)
        W = layer.get_parameter("W")
        if kind is SignNMRU and not bool(((W >= low) & (W <= high)).all()):
            return None  # its phase reads the raw W, which the kernels take to be the clamped one
        schedule = cast(Callable[[int], float], layer.schedule)
        return LayerPlan((op, WEIGHT_PLAIN, ACT_NONE, 1, 0), (low, high, RECIPROCAL_EPS, inf), (W,), schedule)
    if kind is TiedSignNMRU:
        low, high = cast(tuple[float, float], layer.weight_range)
        schedule = cast(Callable[[int], float], layer.schedule)
        return LayerPlan(
            (OP_SIGN_RECIPROCAL, WEIGHT_TIED, ACT_NONE, 1, 0),
            (low, high, RECIPROCAL_EPS, inf),
            _raw(layer, "W"),
            schedule,
        )
    if kind is NAC:
        return LayerPlan((OP_MATMUL, WEIGHT_NAC, ACT_NONE, 2, 0), (-inf, inf, 0.0, inf), _raw(layer, "W_hat", "M_hat"))
    if kind is NACMul:
        eps = cast(float, layer.eps)
        return LayerPlan((OP_EXP_LOG, WEIGHT_NAC, ACT_NONE, 2, 0), (-inf, inf, eps, inf), _raw(layer, "W_hat", "M_hat"))
    if kind is NALU and layer.shared_weights and layer.gate == "input":
        eps, max_exponent = cast(float, layer.eps), cast("float | None", layer.max_exponent)
        cap = inf if max_exponent is None else max_exponent
        return LayerPlan(
            (OP_NALU, WEIGHT_NAC, ACT_NONE, 3, 0), (-inf, inf, eps, cap), _raw(layer, "W_hat", "M_hat", "G")
        )
    if kind is Dense:
        dense = cast(Dense, layer)
        activation = {"linear": ACT_NONE, "relu": ACT_RELU, "relu6": ACT_RELU6}[dense.activation]
        has_bias = int(dense.bias is not None)
        return LayerPlan(
            (OP_MATMUL, WEIGHT_PLAIN, activation, 1, has_bias), (-inf, inf, 0.0, inf), (dense.W,), bias=dense.bias
        )
    return None


def _raw(layer: nn.Module, *names: str) -> tuple[nn.Parameter, ...]:
    """The parameters ``names`` of ``layer``, in that order (the kernels' slots P0, P1, G)."""
    return tuple(layer.get_parameter(name) for name in names)


def plan(model: nn.Module) -> tuple[LayerPlan | None, LayerPlan] | None:
    """(first layer or None, second layer) if the kernels can train ``model``, else None.

    They can for a stack of one or two known layers ([`layer_plan`][nalm.bench.engine.compiled.layer_plan]) ending in one output
    (NMRU, sign NMRU and tied sign NMRU only as the last),
    whose parameters are all float32 or float64 on the CPU and have a leading seed axis
    (S, in, out), biases (S, 1, out), as [`nalm.bench.engine.stacking.stack_seeds`][nalm.bench.engine.stacking.stack_seeds] makes them.
    """
    layers = list(model) if isinstance(model, nn.Sequential) else [model]
    if not 1 <= len(layers) <= 2:
        return None
    plans = [p for p in (layer_plan(layer) for layer in layers) if p is not None]
    if len(plans) != len(layers) or layers[-1].out_features != 1:
        return None
    if len(plans) == 2 and plans[0].kind[0] in (OP_RECIPROCAL, OP_SIGN_RECIPROCAL):
        return None
    parameters = [p for layer_plan_ in plans for p in layer_plan_.all_parameters()]
    if len(parameters) != len(list(model.parameters())):
        return None
    like = parameters[0]
    if like.device.type != "cpu" or like.dtype not in BITS:
        return None
    if any(p.dtype != like.dtype or p.dim() != 3 or p.shape[0] != like.shape[0] for p in parameters):
        return None
    return (None, plans[0]) if len(plans) == 1 else (plans[0], plans[1])


def covers(model: nn.Module) -> bool:
    """Whether the kernels can train the stacked ``model`` ([`plan`][nalm.bench.engine.compiled.plan])."""
    return plan(model) is not None


class StreamRecord(NamedTuple):
    """The kernels' view of a task's stream: positions (S,) uint64 of each seed's next row, draws
    per row, random bits per value, the range's intervals (lows, starts, total length), each
    seed's subset spans (S, 4) and the operation's code ([`OPERATION_CODES`][nalm.bench.engine.compiled.OPERATION_CODES])."""

    positions: np.ndarray
    per_row: int
    bits: int
    lows: np.ndarray
    starts: np.ndarray
    total: float
    spans: np.ndarray
    code: int


class LayerRecord(NamedTuple):
    """One layer as the kernels read it: ``kind`` and ``numbers`` ([`LayerPlan`][nalm.bench.engine.compiled.LayerPlan]), the raw
    parameters P and their Adam moments M, V (S, 3, in, out), the bias B and its moments BM, BV
    (S, out), and the penalty's strength at each step of the call."""

    kind: np.ndarray
    numbers: np.ndarray
    P: np.ndarray
    M: np.ndarray
    V: np.ndarray
    B: np.ndarray
    BM: np.ndarray
    BV: np.ndarray
    strengths: np.ndarray


class StepRecord(NamedTuple):
    """One call's training steps: rows per batch, the first step's number, Adam's (lr, beta1,
    beta2, eps), the largest L2 norm of a seed's gradient (inf: not clipped), which seeds train
    (S,) bool, and the outputs: each seed's diverged step (S,) and loss per step (S, steps)."""

    batch: int
    first_step: int
    adam: np.ndarray
    clip: float
    alive: np.ndarray
    diverged_at: np.ndarray
    losses: np.ndarray


class _PackedLayer:
    """A layer's raw parameters and Adam moments packed (S, 3, in, out), its bias and the bias's
    moments (S, out) (zero and unused without a bias), for the kernels."""

    def __init__(self, layer: LayerPlan | None, like: torch.Tensor, seeds: int, shape: tuple[int, int]) -> None:
        self.layer = layer
        dtype = like.detach().numpy().dtype
        self.P = np.zeros((seeds, 3, *shape), dtype=dtype)
        self.M, self.V = np.zeros_like(self.P), np.zeros_like(self.P)
        self.B = np.zeros((seeds, shape[1]), dtype=dtype)
        self.BM, self.BV = np.zeros_like(self.B), np.zeros_like(self.B)
        none = (OP_NONE, WEIGHT_PLAIN, ACT_NONE, 0, 0), (-math.inf, math.inf, 0.0, math.inf)
        kind, numbers = none if layer is None else (layer.kind, layer.numbers)
        self.kind, self.numbers = np.array(kind, dtype=np.int64), np.array(numbers, dtype=np.float64)

    def strengths(self, steps: range) -> np.ndarray:
        if self.layer is None or self.layer.strength is None:
            return np.zeros(len(steps))
        return np.array([float(self.layer.strength(step)) for step in steps])

    def record(self, steps: range) -> LayerRecord:
        """The layer as `_train_steps` reads it, with its penalty's strength at ``steps``."""
        return LayerRecord(
            self.kind, self.numbers, self.P, self.M, self.V, self.B, self.BM, self.BV, self.strengths(steps)
        )

    def load(self, moments: Callable[[nn.Parameter], tuple[torch.Tensor, torch.Tensor]] | None) -> None:
        """Copy the parameters (and, with ``moments``, their Adam moments) in."""
        for value, m_out, v_out, parameter in self._packing():
            value[:] = parameter.detach().numpy().reshape(value.shape)
            if moments is not None:
                m, v = moments(parameter)
                m_out[:], v_out[:] = m.numpy().reshape(value.shape), v.numpy().reshape(value.shape)

    def store(self, moments: Callable[[nn.Parameter], tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy the parameters and Adam moments back out."""
        for value, m_in, v_in, parameter in self._packing():
            with torch.no_grad():
                parameter.copy_(torch.from_numpy(value).view(parameter.shape))
            m, v = moments(parameter)
            m.copy_(torch.from_numpy(m_in).view(parameter.shape))
            v.copy_(torch.from_numpy(v_in).view(parameter.shape))

    def _packing(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, nn.Parameter]]:
        """(packed value, packed Adam moments m and v, parameter) for each of the layer's parameters."""
        if self.layer is None:
            return []
        packed = [
            (self.P[:, slot], self.M[:, slot], self.V[:, slot], p) for slot, p in enumerate(self.layer.parameters)
        ]
        if self.layer.bias is not None:
            packed.append((self.B, self.BM, self.BV, self.layer.bias))
        return packed


class CompiledRun:
    """Train and evaluate the stacked ``model`` ([`plan`][nalm.bench.engine.compiled.plan] must accept it) on ``task`` with the kernels,
    each seed's gradient clipped to an L2 norm of ``gradient_clip`` where it is given.

    The parameters stay the model's and the Adam moments the optimizer's (``exp_avg``,
    ``exp_avg_sq``, ``step`` of ``optimizer.state``) between calls, so checkpoints and the
    PyTorch engine read and write the same state.
    """

    def __init__(
        self,
        model: nn.Module,
        task: StaticArithmeticTask,
        seeds: Sequence[int],
        optimizer: torch.optim.Adam,
        gradient_clip: float | None = None,
    ) -> None:
        layers = plan(model)
        if layers is None:
            raise ValueError(f"the compiled kernels cannot train {type(model).__name__} {model}")
        self.task, self.optimizer, self.seeds = task, optimizer, tuple(seeds)
        self.spans = task.spans([task.subsets(seed) for seed in seeds])
        self.code = OPERATION_CODES[task.operation]
        first, second = layers
        like = second.parameters[0]
        rows = like.shape[1]  # the second layer's raw weight rows
        hidden = _second_sizes(second.kind, rows)[1]
        self.first = _PackedLayer(first, like, len(seeds), (task.input_size, hidden))
        self.second = _PackedLayer(second, like, len(seeds), (rows, 1))
        self.clip = math.inf if gradient_clip is None else float(gradient_clip)
        self.bits = BITS[like.dtype]
        group = optimizer.param_groups[0]
        if group["weight_decay"] or group["amsgrad"] or group["maximize"]:
            raise ValueError("the compiled kernels run plain Adam: no weight decay, amsgrad or maximize")
        self.adam = np.array([group["lr"], *group["betas"], group["eps"]], dtype=np.float64)
        start_threads()  # before the kernels run, keeping PyTorch's thread count

    def _moments(self, parameter: nn.Parameter) -> tuple[torch.Tensor, torch.Tensor]:
        state = self.optimizer.state[parameter]
        if not state:
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        return state["exp_avg"], state["exp_avg_sq"]

    def _stream(self, positions: np.ndarray, bounds: Range) -> StreamRecord:
        lows, starts, total = interval_arrays(intervals(bounds))
        per_row = draws_per_row(self.task.input_size)
        return StreamRecord(positions, per_row, self.bits, lows, starts, total, self.spans, self.code)

    def train(self, streams: SeedStreams, steps: range, batch: int, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Train the ``alive`` seeds (S,) bool, updated in place) through ``steps`` (consecutive, from
        1 on) with batches of ``batch`` rows from ``streams``. Returns the losses (S, len(steps)) and
        each seed's diverged step (0 if it did not diverge)."""
        positions = streams.advance(batch * len(steps), self.task.input_size)
        for layer in (self.first, self.second):
            layer.load(self._moments)
        run = StepRecord(
            batch,
            steps.start,
            self.adam,
            self.clip,
            alive,
            np.zeros(len(alive), dtype=np.int64),
            np.full((len(alive), len(steps)), np.nan),
        )
        data = self._stream(positions, self.task.interpolation_range)
        _train_steps(data, self.first.record(steps), self.second.record(steps), run)
        for layer in (self.first, self.second):
            layer.store(self._moments)
        for group in self.optimizer.param_groups:
            for parameter in group["params"]:
                self.optimizer.state[parameter]["step"].fill_(steps.stop - 1)
        return run.losses, run.diverged_at

    def mean_squared_errors(self, stream: str, rows: int) -> list[float]:
        """Each seed's MSE on the first ``rows`` rows of its ``stream`` ("interpolation" or "extrapolation")."""
        bounds: Range = self.task.interpolation_range if stream == "interpolation" else self.task.extrapolation_range
        for layer in (self.first, self.second):
            layer.load(None)
        out = np.zeros(len(self.seeds))
        positions = SeedStreams(self.seeds, stream).advance(rows, self.task.input_size)
        no_steps = range(0)
        _squared_errors(
            self._stream(positions, bounds), rows, self.first.record(no_steps), self.second.record(no_steps), out
        )
        return (out / rows).tolist()

    def evaluate(self, rows: int) -> Scores:
        """Each seed's interpolation and extrapolation MSE on its sets of ``rows`` points."""
        interpolation = self.mean_squared_errors("interpolation", rows)
        return Scores(interpolation, self.mean_squared_errors("extrapolation", rows), [()] * len(self.seeds))

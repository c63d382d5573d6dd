"""The benchmark's random data: counter-based streams and the drawing kernels."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from nalm.bench.tasks import streams as data
from nalm.bench.tasks.streams import MAX_SEED, SeedStreams, draw, draw_projection, stream_start, uniforms

UNIT = [(0.0, 1.0)]


def no_spans(n_seeds):
    return np.zeros((n_seeds, 4), dtype=np.int64)


def test_splitmix_matches_the_published_first_output():
    # SplitMix64 seeded with 0 first outputs 0xE220A8397B1DCDAF: the mix of GAMMA * 1.
    assert int(data._splitmix(np.uint64(1))) == 0xE220A8397B1DCDAF


def test_float64_values_are_the_two_32_bit_halves_of_each_draw():
    u = uniforms(0, "train", 4)
    first = int(data._splitmix(np.uint64(stream_start(0, "train"))))
    second = int(data._splitmix(np.uint64(stream_start(0, "train") + 1)))
    expected = [first >> 32, first & 0xFFFFFFFF, second >> 32, second & 0xFFFFFFFF]
    assert u.tolist() == [k / 2**32 for k in expected]


def test_float32_values_are_the_float64_values_cut_to_24_bits():
    x64, _ = draw(SeedStreams([4], "train"), 50, 9, UNIT, no_spans(1), torch.float64)
    x32, _ = draw(SeedStreams([4], "train"), 50, 9, UNIT, no_spans(1), torch.float32)
    assert torch.equal(x32.double(), torch.floor(x64 * 2**24) / 2**24)


def test_float32_draws_hold_exact_zeros_on_a_range_around_zero():
    # 24 bits: U[-2, 2] gives 0 with probability 2^-24. Seed 5's training batch of step 821 (batch 128,
    # 2 inputs) holds one, the cause of its MulMCFC divergence on the primer2021 results page.
    streams = SeedStreams([5], "train")
    streams.advance(820 * 128, 2)
    x, _ = draw(streams, 128, 2, [(-2.0, 2.0)], no_spans(1), torch.float32)
    assert x[0, 124].eq(0).any()
    assert not draw(SeedStreams([5], "train"), 820 * 128, 2, [(-2.0, 2.0)], no_spans(1))[0].eq(0).any()


def test_consecutive_draws_continue_the_stream():
    whole, whole_sums = draw(
        SeedStreams([1, 5], "train"), 10, 7, [(2.0, 6.0)], np.array([[0, 3, 2, 6]] * 2), torch.float64
    )
    streams = SeedStreams([1, 5], "train")
    parts = [draw(streams, rows, 7, [(2.0, 6.0)], np.array([[0, 3, 2, 6]] * 2), torch.float64) for rows in (3, 1, 6)]
    assert torch.equal(torch.cat([x for x, _ in parts], dim=1), whole)
    assert torch.equal(torch.cat([s for _, s in parts], dim=1), whole_sums)


def test_a_seeds_numbers_do_not_depend_on_the_other_seeds():
    together, _ = draw(SeedStreams([9, 2, 30], "interpolation"), 20, 11, UNIT, no_spans(3))
    alone, _ = draw(SeedStreams([2], "interpolation"), 20, 11, UNIT, no_spans(1))
    assert torch.equal(together[1], alone[0])


def test_every_seed_and_stream_draws_other_numbers():
    firsts = {(seed, stream): tuple(uniforms(seed, stream, 4)) for seed in range(5) for stream in data.STREAMS}
    assert len(set(firsts.values())) == len(firsts)
    starts = sorted(stream_start(seed, stream) for seed in (0, 1, MAX_SEED) for stream in data.STREAMS)
    assert all(b - a >= data.STREAM_DRAWS for a, b in zip(starts, starts[1:]))
    assert starts[-1] + data.STREAM_DRAWS <= 2**64


def test_values_are_uniform_and_adjacent_columns_uncorrelated():
    x, _ = draw(SeedStreams([0], "train"), 20_000, 10, UNIT, no_spans(1), torch.float64)
    u = np.sort(x.numpy().ravel())
    n = u.size
    ks = np.max(np.abs(np.arange(1, n + 1) / n - u))  # Kolmogorov-Smirnov distance to U[0, 1)
    assert ks < 1.63 / math.sqrt(n)  # the 1% critical value
    assert x.mean().item() == pytest.approx(0.5, abs=0.005) and x.var().item() == pytest.approx(1 / 12, abs=0.002)
    columns = x[0].numpy()
    assert abs(np.corrcoef(columns[:, 0], columns[:, 1])[0, 1]) < 0.03  # halves of one draw
    assert abs(np.corrcoef(columns[:, 1], columns[:, 2])[0, 1]) < 0.03  # neighbouring draws


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_values_lie_in_the_range_in_the_asked_dtype(dtype):
    x, sums = draw(SeedStreams([3], "extrapolation"), 500, 5, [(-20.0, -10.0)], no_spans(1), dtype)
    assert x.dtype == dtype and x.shape == (1, 500, 5) and sums.dtype == torch.float64
    assert x.min() >= -20.0 and x.max() <= -10.0


def test_a_union_is_sampled_uniformly_over_its_intervals():
    bounds = [(-6.0, -2.0), (0.0, 1.0), (2.0, 6.0)]
    x, _ = draw(SeedStreams([0], "train"), 30_000, 3, bounds, no_spans(1), torch.float64)
    inside = ((x >= -6) & (x < -2)) | ((x >= 0) & (x < 1)) | ((x >= 2) & (x < 6))
    assert inside.all()
    for (low, high), share in zip(bounds, (4 / 9, 1 / 9, 4 / 9)):
        part = x[(x >= low) & (x < high)]
        assert part.numel() / x.numel() == pytest.approx(share, abs=0.01)
        assert part.mean().item() == pytest.approx((low + high) / 2, abs=0.02)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sums_are_the_float64_sums_of_the_drawn_values(dtype):
    spans = np.array([[0, 4, 2, 7], [3, 9, 1, 2]])
    x, sums = draw(SeedStreams([0, 1], "train"), 40, 9, [(1.0, 2.0)], spans, dtype)
    for s, (a0, a1, b0, b1) in enumerate(spans):
        torch.testing.assert_close(sums[s, :, 0], x[s, :, a0:a1].double().sum(-1), rtol=1e-15, atol=0)
        torch.testing.assert_close(sums[s, :, 1], x[s, :, b0:b1].double().sum(-1), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_projection_is_the_drawn_inputs_times_the_weight(dtype):
    weight = torch.randn(2, 9, 3, dtype=dtype, generator=torch.Generator().manual_seed(0), requires_grad=True)
    spans = np.array([[0, 4, 2, 7], [3, 9, 1, 2]])
    x, sums = draw(SeedStreams([6, 2], "train"), 16, 9, [(1.0, 2.0)], spans, dtype)
    h, projected_sums = draw_projection(SeedStreams([6, 2], "train"), 16, [(1.0, 2.0)], spans, weight)
    assert not projected_sums.requires_grad and torch.equal(projected_sums, sums)
    torch.testing.assert_close(h, x @ weight.detach())
    grad_h = torch.randn_like(h)
    h.backward(grad_h)
    torch.testing.assert_close(weight.grad, x.transpose(1, 2) @ grad_h)


def test_projection_gradient_float64():
    def project(weight):
        return draw_projection(SeedStreams([5, 9], "train"), 4, [(1.0, 2.0)], no_spans(2), weight)[0]

    weight = torch.rand(2, 7, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(project, (weight,))


@pytest.mark.parametrize(
    "weight",
    [torch.zeros(1, 4, 2, dtype=torch.bfloat16), torch.zeros(4, 2), torch.zeros(1, 4, 2, device="meta")],
)
def test_projection_rejects_weights_it_cannot_draw_for(weight):
    with pytest.raises(ValueError, match="float32 or float64 CPU weight"):
        draw_projection(SeedStreams([0], "train"), 2, UNIT, no_spans(1), weight)


@pytest.mark.parametrize(
    ("seed", "stream", "message"),
    [
        (-1, "train", "seed must be an integer"),
        (MAX_SEED + 1, "train", "seed must be an integer"),
        (1.0, "train", "seed must be an integer"),
        (True, "train", "seed must be an integer"),
        (0, "test", "stream must be one of"),
    ],
)
def test_bad_seeds_and_streams_raise(seed, stream, message):
    with pytest.raises(ValueError, match=message):
        stream_start(seed, stream)


def test_low_precision_sums_are_those_of_the_rounded_inputs():
    spans = np.array([[0, 25, 12, 37]])
    x, sums = draw(SeedStreams([0], "train"), 64, 40, [(1.0, 2.0)], spans, torch.bfloat16)
    assert torch.equal(sums[0, :, 0], x[0, :, 0:25].double().sum(-1))
    assert torch.equal(sums[0, :, 1], x[0, :, 12:37].double().sum(-1))


@pytest.mark.parametrize(
    ("spans", "columns"),
    [
        (np.zeros((2, 4)), 5),
        (np.array([[0, 6, 0, 1]]), 5),
        (np.array([[3, 2, 0, 1]]), 5),
        (np.array([[-1, 2, 0, 1]]), 5),
        (np.zeros((1, 4)), 0),
    ],
)
def test_spans_outside_the_row_are_refused(spans, columns):
    with pytest.raises(ValueError, match="spans"):
        draw(SeedStreams([0], "train"), 2, columns, UNIT, spans)


@pytest.mark.parametrize(("stream", "draws"), [("interpolation", data.STREAM_DRAWS), ("train", data.STREAM_DRAWS // 2)])
def test_a_stream_cannot_run_into_the_next_one(stream, draws):
    streams = SeedStreams([0], stream)
    streams.advance(draws - 1, 2)
    with pytest.raises(ValueError, match="a stream holds"):
        streams.advance(2, 2)


def test_the_noise_stream_is_the_second_half_of_the_training_stream():
    train, noise = SeedStreams([3], "train"), SeedStreams([3], "noise")
    assert int(noise.positions[0]) - int(train.positions[0]) == data.STREAM_DRAWS // 2
    assert int(SeedStreams([3], "interpolation").positions[0]) - int(train.positions[0]) == data.STREAM_DRAWS
    with pytest.raises(ValueError, match="a stream holds"):
        noise.advance(data.STREAM_DRAWS // 2 + 1, 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_uniform_noise_gives_each_seed_its_own_stream_whatever_the_stack(dtype):
    like = torch.empty(3, 5, 4, dtype=dtype)
    together = data.uniform_noise(SeedStreams([7, 0, 2], "noise"), like, 1.0, 5.0)
    alone = data.uniform_noise(SeedStreams([0], "noise"), like[:1], 1.0, 5.0)
    assert together.dtype == dtype and together.shape == like.shape
    assert torch.equal(together[1], alone[0])
    assert 1.0 <= together.min().item() and together.max().item() < 5.0
    streams = SeedStreams([0], "noise")  # consecutive draws continue the stream
    first, second = (data.uniform_noise(streams, like[:1], 1.0, 5.0) for _ in range(2))
    both = data.uniform_noise(SeedStreams([0], "noise"), torch.empty(1, 10, 4, dtype=dtype), 1.0, 5.0)
    assert torch.equal(torch.cat([first, second], dim=1), both)


def test_projection_needs_one_weight_per_seed():
    with pytest.raises(ValueError, match=r"weight \(2, columns, out\)"):
        draw_projection(SeedStreams([0, 1], "train"), 2, UNIT, no_spans(2), torch.zeros(3, 4, 2))


DEVICE_CASES = [
    (dtype, bounds, columns)
    for dtype in (torch.float32, torch.float64)
    for bounds in ([(1.0, 2.0)], [(-6.0, -2.0), (2.0, 6.0)], [(-20.0, -10.0)], [(0.1, 0.2), (1.0, 3.0), (5.0, 5.5)])
    for columns in (100, 7, 1)
]


@pytest.mark.parametrize(("dtype", "bounds", "columns"), DEVICE_CASES)
def test_the_device_draws_are_the_kernels_up_to_rounding(dtype, bounds, columns):
    # The tensor-operation port that draws on a GPU, run here on the CPU: the same 64-bit draws,
    # so the same values, except that the kernels may fuse the scaling into one rounding (FMA).
    seeds, spans = [0, 5, MAX_SEED], np.array([[0, min(3, columns), 0, columns]] * 3)
    x, sums = draw(SeedStreams(seeds, "train"), 33, columns, bounds, spans, dtype)
    positions = SeedStreams(seeds, "train").advance(33, columns)
    bits = data.BITS[dtype]
    ported = data._draw_on_device(
        positions, 33, columns, bits, *data.interval_arrays(bounds), dtype, torch.device("cpu")
    )
    ported_sums = data._subset_sums(ported, spans)
    assert ported.dtype == dtype and ported.shape == x.shape
    if bounds[0] in ((1.0, 2.0), (-6.0, -2.0)):  # scaling by a power of two: no rounding at all
        assert torch.equal(ported, x) and torch.equal(ported_sums, sums)
    ulp = torch.finfo(dtype).eps
    torch.testing.assert_close(ported, x, rtol=2 * ulp, atol=0)
    torch.testing.assert_close(ported_sums, sums, rtol=columns * 2 * ulp, atol=0)


def test_the_device_port_reads_the_64_bit_counter_as_the_kernels_do():
    positions = torch.tensor([data._as_int64(p) for p in (0, 1, 2**63 - 1, 2**63, 2**64 - 1)])
    mixed = data._splitmix_on_device(positions)
    expected = [int(data._splitmix(np.uint64(p))) for p in (0, 1, 2**63 - 1, 2**63, 2**64 - 1)]
    assert [value % 2**64 for value in mixed.tolist()] == expected


def test_draws_for_another_device_are_made_there():
    # "meta" tensors have shapes and no values: the rows come from the tensor port, not the kernels.
    x, sums = draw(SeedStreams([0, 1], "train"), 4, 9, UNIT, np.array([[0, 3, 2, 6]] * 2), torch.bfloat16, "meta")
    assert (x.device.type, x.dtype, x.shape) == ("meta", torch.bfloat16, (2, 4, 9))
    assert (sums.device.type, sums.dtype, sums.shape) == ("meta", torch.float64, (2, 4, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_gpu_draws_the_cpus_numbers_up_to_rounding():
    spans = np.array([[0, 25, 12, 37]] * 3)
    for dtype in (torch.float32, torch.float64):
        x, sums = draw(SeedStreams([0, 1, 7], "extrapolation"), 64, 100, [(2.0, 6.0)], spans, dtype)
        on_gpu, gpu_sums = draw(SeedStreams([0, 1, 7], "extrapolation"), 64, 100, [(2.0, 6.0)], spans, dtype, "cuda")
        assert on_gpu.device.type == "cuda"
        torch.testing.assert_close(on_gpu.cpu(), x, rtol=2 * torch.finfo(dtype).eps, atol=0)
        torch.testing.assert_close(gpu_sums.cpu(), sums, rtol=1e-6, atol=0)


def test_a_device_without_float64_gets_the_cpus_draws_and_keeps_the_sums_on_the_cpu(monkeypatch):
    monkeypatch.setattr(data, "_CPU_DRAWN", ("meta",))  # "meta" plays Apple's MPS here
    spans = np.array([[0, 3, 2, 6]] * 2)
    x, sums = draw(SeedStreams([0, 1], "train"), 4, 9, UNIT, spans, torch.float32, "meta")
    on_cpu, cpu_sums = draw(SeedStreams([0, 1], "train"), 4, 9, UNIT, spans, torch.float32)
    assert x.device.type == "meta" and x.shape == on_cpu.shape
    assert sums.device.type == "cpu" and torch.equal(sums, cpu_sums)


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_kernels_idle_threads_sleep_unless_the_user_says_otherwise(given, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    code = "import os, nalm.bench.tasks.streams; print(os.environ['OMP_WAIT_POLICY'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_starting_numba_s_threads_keeps_pytorch_s_thread_count():
    """With numba's OpenMP layer, the start of its threads sets the OpenMP thread count, which
    PyTorch reads: a process on one PyTorch thread stays on one (checked in a fresh process)."""
    script = (
        "import torch\n"
        "from nalm.bench.tasks.streams import SeedStreams, draw, set_threads\n"
        "torch.set_num_threads(1)\n"
        "assert torch.get_num_threads() == 1\n"  # PyTorch in use before numba's threads start
        "set_threads(2)\n"  # as the compiled kernels' training starts them
        "draw(SeedStreams([0, 1], 'train'), 4, 10, [(1.0, 2.0)], [[0, 2, 2, 4]] * 2)\n"
        "assert torch.get_num_threads() == 1, torch.get_num_threads()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

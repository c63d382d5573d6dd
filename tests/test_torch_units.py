"""The contract every registered PyTorch unit keeps, plus NAC's and NALU's own promises."""

import math

import pytest
import torch

from nalm import functional
from nalm.torch import NAC, NALU, UNITS, UnitStack

PARAMETER_LAYOUT = {
    "nac": (2, 0, 0),
    "nac_mul": (2, 0, 0),
    "nalu": (3, 0, 0),
    "nau": (1, 0, 0),
    "nmu": (1, 0, 0),
    "inalu": (4, 0, 1),
    "npu": (2, 1, 0),
    "realnpu": (1, 1, 0),
    "nru": (1, 0, 0),
    "nmru": (2, 0, 0),  # W is (2 in, out): one (in, out) matrix for x, one for 1/x
    "sign_nmru": (2, 0, 0),
    "tied_sign_nmru": (1, 0, 0),
    "snmu": (1, 0, 0),
    "mcfc": (1, 0, 2),
    "mul_mcfc": (1, 0, 3),
}
"""How many (in, out) matrices, (in,) vectors and (out,) vectors each unit holds by default."""

UNPENALIZED = ("nac", "nac_mul", "nalu")
"""Units whose papers add no regularization loss."""

REWARDING = ("mcfc", "mul_mcfc")
"""Units whose published penalty is negative once it starts (it rewards large weights, unbounded below)."""

POSITIVE_INPUTS_ONLY = ("mul_mcfc",)
"""Units defined for x > 0 only (log x): a negative input gives NaN, a zero NaN gradients."""

NOT_FINITE = {
    ("nru", "zeros"),  # no eps: 0^W with W < 0 is inf, times sign(0) = 0: NaN (documented)
    ("nru", "tiny"),  # (1e-30)^W overflows for W < 0
    ("nru", "mixed"),
    ("mul_mcfc", "zeros"),  # log 0 = -inf: the output is 0 but the gradients NaN
    ("mul_mcfc", "negative"),
    ("mul_mcfc", "mixed"),
}
"""(unit, awkward input) pairs whose non-finite result the unit documents."""


def inputs(name, *shape, dtype=torch.float32):
    """N(0, 1) inputs, or |N(0, 1)| + 0.1 for a unit of positive inputs only."""
    x = torch.randn(*shape, dtype=dtype)
    return x.abs() + 0.1 if name in POSITIVE_INPUTS_ONLY else x


def seeded(unit, x):
    """unit(x) with torch's generator reseeded first: the sNMU's training noise is then the same in every call."""
    torch.manual_seed(1234)
    return unit(x)


MIXED_SIGNS = torch.tensor([1.0, -1.0, 1.0, -1.0])


def make(name, n_in=4, n_out=3, **options):
    torch.manual_seed(0)
    return UNITS.get(name)(n_in, n_out, **options)


def test_every_registered_unit_has_an_expected_parameter_count():
    assert set(UNITS.names()) == set(PARAMETER_LAYOUT)


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("leading", [(), (5,), (2, 7), (2, 3, 4)])
def test_output_shape_for_any_leading_dims(name, leading):
    unit = make(name)
    assert unit(torch.randn(*leading, 4)).shape == (*leading, 3)


@pytest.mark.parametrize("name", UNITS.names())
def test_parameter_count(name):
    unit = make(name, 5, 2)
    matrices, in_vectors, out_vectors = PARAMETER_LAYOUT[name]
    assert sum(p.numel() for p in unit.parameters()) == matrices * 5 * 2 + in_vectors * 5 + out_vectors * 2


@pytest.mark.parametrize("name", UNITS.names())
def test_float64_gradcheck(name):
    # in train() mode, the default: reseeded in every call, the sNMU's noise is fixed
    unit = make(name).double()
    x = inputs(name, 6, 4, dtype=torch.float64).requires_grad_()
    params = tuple(unit.parameters())

    def f(x, *weights):
        torch.manual_seed(0)
        return torch.func.functional_call(unit, dict(zip(dict(unit.named_parameters()), weights)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params))


def test_nalu_separate_weights_gradcheck():
    unit = make("nalu", shared_weights=False).double()
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(unit, (x,))


@pytest.mark.parametrize("name", UNITS.names())
def test_state_dict_round_trip(name):
    unit = make(name)
    torch.manual_seed(1)
    other = UNITS.get(name)(4, 3)
    x = inputs(name, 8, 4)
    assert not torch.equal(seeded(unit, x), seeded(other, x))
    other.load_state_dict(unit.state_dict())
    assert torch.equal(seeded(unit, x), seeded(other, x))


AWKWARD = {
    "zeros": torch.zeros(3, 4),
    "negative": -torch.rand(3, 4) * 10,
    "tiny": torch.full((3, 4), 1e-30),
    "mixed": torch.tensor([[0.0, -1.0, 1e-20, 3.0]]),
}


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("case", AWKWARD)
def test_finite_outputs_and_gradients_on_awkward_inputs(name, case):
    if (name, case) in NOT_FINITE:
        pytest.skip(f"{name} documents a non-finite result on {case} inputs")
    x = AWKWARD[case]
    unit = make(name)
    y = unit(x)
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in unit.parameters())


@pytest.mark.parametrize("name", UNITS.names())
def test_one_optimizer_step_changes_every_weight(name):
    # Inputs of both signs: the NPU's imaginary weights start at 0, where only a negative input
    # gives them a gradient.
    unit = make(name)
    before = {k: v.clone() for k, v in unit.state_dict().items()}
    optimizer = torch.optim.SGD(unit.parameters(), lr=0.1)
    unit((torch.rand(16, 4) + 0.5) * MIXED_SIGNS).pow(2).mean().backward()
    optimizer.step()
    for key, value in unit.state_dict().items():
        assert not torch.equal(before[key], value), key


@pytest.mark.parametrize("name", UNITS.names())
def test_weights_are_recomputed_every_forward(name):
    # The effective weight must follow the first parameter (W_hat, W, W_re...): a unit that
    # cached its weight in __init__ would not change.
    # The shift differs along the output axis: MC-FC's softmax over that axis ignores a uniform one.
    unit = make(name).eval()
    x = torch.rand(2, 4) + 0.5
    before = unit(x)
    with torch.no_grad():
        first = next(unit.parameters())
        first.add_(1.0 + torch.linspace(0.0, 1.0, first.shape[-1]))
    assert not torch.allclose(unit(x), before)


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("step", [0, 10, 10**7])
def test_regularization_loss_is_a_finite_non_negative_scalar(name, step):
    loss = make(name).regularization_loss(step=step)
    assert loss.shape == () and torch.isfinite(loss)
    assert loss.item() >= 0.0 if name not in REWARDING else loss.item() <= 0.0


@pytest.mark.parametrize("name", UNPENALIZED)
def test_units_without_a_published_penalty_have_none(name):
    assert make(name).regularization_loss(step=10**7).item() == 0.0


@pytest.mark.parametrize("name", UNITS.names())
def test_apply_constraints_leaves_freshly_initialized_weights_unchanged(name):
    # Every unit starts inside its allowed range, so the projection has nothing to do.
    unit = make(name)
    before = {k: v.clone() for k, v in unit.state_dict().items()}
    unit.apply_constraints()
    assert all(torch.equal(before[k], v) for k, v in unit.state_dict().items())


@pytest.mark.parametrize("name", UNITS.names())
def test_compiles_without_graph_breaks(name):
    # Every unit's forward is DefinedUnit.forward: one code object, whose guards hold one entry per
    # unit compiled before; dynamo's recompile limit (8) would count the other units' entries.
    torch._dynamo.reset()
    unit = make(name)
    compiled = torch.compile(unit, backend="aot_eager", fullgraph=True)
    x = inputs(name, 5, 4)
    torch.testing.assert_close(seeded(compiled, x), seeded(unit, x))
    compiled(x).sum().backward()
    assert all(p.grad is not None for p in unit.parameters())


@pytest.mark.parametrize("name", UNITS.names())
def test_runs_under_cpu_autocast(name):
    unit = make(name)
    x = torch.rand(5, 4) + 0.5
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = seeded(unit, x)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), seeded(unit, x), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("name", UNITS.names())
def test_follows_the_input_dtype(name):
    unit = make(name).double()
    assert unit(torch.randn(2, 4, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16], ids=str)
def test_a_float_input_of_another_dtype_than_the_weights_raises_one_clear_error(name, dtype):
    unit = make(name)
    short = str(dtype).removeprefix("torch.")
    message = (
        rf"{type(unit).__name__} holds float32 weights but got a {short} input: "
        rf"call \.to\({dtype}\) on the unit or cast the input"
    )
    with pytest.raises(TypeError, match=f"^{message}$"):
        unit(torch.rand(2, 4, dtype=dtype))
    assert unit.to(dtype)(torch.rand(2, 4, dtype=dtype)).dtype == dtype  # as the message says


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_under_autocast_half_precision_inputs_are_left_to_autocast(name, dtype):
    # e.g. a float32 unit after a layer whose output autocast made bfloat16; in eval() mode, where
    # the sNMU draws no noise (a bfloat16 input draws bfloat16 noise, not the float32 values)
    unit = make(name).eval()
    x = torch.rand(5, 4) + 0.5
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = unit(x.to(dtype))
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y.float(), unit(x), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("name", UNITS.names())
def test_under_autocast_float64_still_has_to_match(name):
    # autocast never casts float64 (nn.Linear raises on it too): the same clear error as outside
    with torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(TypeError, match="holds float32 weights but got a float64 input"):
            make(name)(torch.rand(2, 4, dtype=torch.float64))
        with pytest.raises(TypeError, match="holds float64 weights but got a float32 input"):
            make(name).double()(torch.rand(2, 4))
        assert make(name).double()(torch.rand(2, 4, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("sizes", [(0, 3), (4, 0), (-1, 2), (2.5, 3), (True, 3)])
def test_bad_sizes_raise_naming_the_value(name, sizes):
    with pytest.raises(ValueError, match=r"(in|out)_features must be a positive integer, got"):
        UNITS.get(name)(*sizes)


@pytest.mark.parametrize("name", UNITS.names())
def test_wrong_feature_size_raises(name):
    with pytest.raises(ValueError, match=r"expects inputs of shape \(\.\.\., 4\), got \(2, 5\)"):
        make(name)(torch.randn(2, 5))


@pytest.mark.parametrize("name", UNITS.names())
def test_integer_input_raises(name):
    with pytest.raises(TypeError, match="floating-point input, got dtype torch.int64"):
        make(name)(torch.ones(2, 4, dtype=torch.long))


def test_unknown_unit_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown unit 'nmu_typo'; choose from 'nac', 'nac_mul', 'nalu'"):
        UNITS.get("nmu_typo")


@pytest.mark.parametrize(
    "options",
    [
        {"eps": 0},
        {"eps": -1e-7},
        {"eps": float("nan")},
        {"shared_weights": "no"},
        {"max_exponent": "big"},
        {"gate": "sometimes"},
    ],
)
def test_nalu_rejects_bad_options(options):
    with pytest.raises(ValueError, match=next(iter(options))):
        NALU(2, 1, **options)


def test_nac_initialization_is_kaiming_normal_over_the_true_fan_in():
    torch.manual_seed(0)
    unit = NAC(400, 300)
    expected_std = math.sqrt(2.0 / 400)
    for weight in (unit.W_hat, unit.M_hat):
        assert weight.mean().abs() < 0.01 * expected_std * 10
        assert weight.std().item() == pytest.approx(expected_std, rel=0.02)


def test_nalu_initialization_is_kaiming_uniform_over_the_true_fan_in():
    torch.manual_seed(0)
    unit = NALU(400, 300, shared_weights=False)
    bound = math.sqrt(6.0 / 400)
    for weight in unit.parameters():
        assert weight.abs().max().item() <= bound
        assert weight.abs().max().item() > 0.99 * bound
        assert weight.std().item() == pytest.approx(bound / math.sqrt(3.0), rel=0.02)


def test_reset_parameters_redraws_the_weights():
    unit = make("nalu")
    before = unit.W_hat.clone()
    unit.reset_parameters()
    assert not torch.equal(before, unit.W_hat)


def test_nalu_without_cap_overflows_to_inf_and_the_cap_keeps_it_finite():
    x = torch.full((1, 2), 1e20)
    plain, capped = NALU(2, 1), NALU(2, 1, max_exponent=20.0)
    for unit in (plain, capped):
        with torch.no_grad():
            unit.W_hat.fill_(40.0)
            unit.M_hat.fill_(40.0)
            unit.G.fill_(-1.0)  # gate shut: y = m = product of the inputs
    assert torch.isinf(plain(x)).all()  # 1e40 exceeds float32's range: documented behaviour
    assert capped(x).item() == pytest.approx(math.exp(20.0), rel=1e-5)


def test_repr_names_sizes_and_options():
    assert repr(NAC(3, 2)) == "NAC(in_features=3, out_features=2, init='kaiming')"
    assert repr(NALU(3, 2, max_exponent=20)) == (
        "NALU(in_features=3, out_features=2, eps=1e-07, shared_weights=True, max_exponent=20, gate='input', "
        "init='kaiming')"
    )  # every option, from the unit's definition


def test_an_unknown_option_is_a_clear_error():
    with pytest.raises(TypeError, match=r"nalu got unknown options \['epsilon'\]; its options are \['eps', "):
        NALU(3, 2, epsilon=1e-7)


@pytest.mark.parametrize("name", UNITS.names())
@pytest.mark.parametrize("dims", [(4, 1), (4, 3, 2), (10, 8, 6, 4, 1)])
def test_stack_builds_a_feed_forward_network(name, dims):
    stack = UNITS.get(name).stack(*dims)
    assert isinstance(stack, UnitStack)
    assert stack.dims == dims
    assert len(stack) == len(dims) - 1
    assert stack(torch.rand(7, dims[0])).shape == (7, dims[-1])
    assert stack.regularization_loss(step=0).item() == 0.0


def test_stack_passes_options_to_every_unit_and_accepts_a_list():
    stack = NALU.stack([4, 3, 2], eps=1e-8, shared_weights=False)
    assert all(unit.eps == 1e-8 and not unit.shared_weights for unit in stack)


@pytest.mark.parametrize("dims", [(), (4,), (4, 0, 1), (4, -2)])
def test_stack_rejects_bad_sizes(dims):
    with pytest.raises(ValueError, match="at least two sizes|must be a positive integer"):
        NAC.stack(*dims)


def test_numpy_integers_and_floats_are_accepted():
    import numpy as np

    unit = NALU(np.int64(4), np.int32(3), eps=np.float64(1e-7))
    assert (unit.in_features, unit.out_features) == (4, 3) and isinstance(unit.in_features, int)


def test_nalu_dividing_by_many_zeros_overflows_unless_capped():
    # exp(-8 * log(1e-7)) = exp(129) is past float32's limit (exp(88.7)): documented; the cap keeps it finite.
    plain, capped = NALU(8, 1), NALU(8, 1, max_exponent=20.0)
    for unit in (plain, capped):
        with torch.no_grad():
            unit.W_hat.fill_(-40.0)
            unit.M_hat.fill_(40.0)
            unit.G.fill_(-40.0)
    x = torch.zeros(1, 8)
    assert torch.isinf(plain(x)).all()
    assert capped(x).item() == pytest.approx(math.exp(20.0) / 2, rel=1e-5)  # gate sigmoid(0) = 1/2


@pytest.mark.parametrize("name", ["nau", "nmu", "inalu"])
def test_scheduled_penalties_take_python_numpy_and_tensor_steps(name):
    import numpy as np

    unit = make(name)
    for step in (0, 20_000, 3_000_000):
        expected = unit.regularization_loss(step)
        for other in (np.int64(step), torch.tensor(step), float(step)):
            assert torch.allclose(unit.regularization_loss(other), expected)


def test_options_are_fixed_once_a_unit_is_built():
    unit = make("nalu")
    with pytest.raises(AttributeError, match="NALU.eps is fixed when the unit is built"):
        unit.eps = 1.0
    assert unit.eps == 1e-7


@pytest.mark.parametrize("name", ["nac", "nac_mul", "nalu"])
def test_glorot_w_init_draws_the_nac_weights_from_the_published_uniform(name):
    torch.manual_seed(0)
    separate = {"shared_weights": False} if name == "nalu" else {}  # the multiplicative pair too
    unit = UNITS.get(name)(400, 300, init="glorot_w", **separate)
    r = functional.nac_init_limit(400, 300)
    for weight in (getattr(unit, n) for n in ("W_hat", "M_hat", "W_hat_mul", "M_hat_mul") if hasattr(unit, n)):
        assert 0.99 * r < weight.abs().max().item() <= r
        assert weight.std().item() == pytest.approx(r / math.sqrt(3.0), rel=0.02)
    if name == "nalu":  # the gate: Glorot uniform, as the published NALU starts
        bound = math.sqrt(6.0 / 700)
        assert 0.99 * bound < unit.G.abs().max().item() <= bound
    assert UNITS.get(name)(4, 3).init == "kaiming"  # a unit built by hand keeps its default


def test_an_unknown_nac_init_is_refused():
    with pytest.raises(ValueError, match="unknown init 'xavier'; choose from 'kaiming', 'glorot_w'"):
        NAC(2, 1, init="xavier")


@pytest.mark.parametrize("name", UNITS.names())
def test_a_layer_given_the_sizes_of_a_network_says_how_to_build_one(name):
    unit = UNITS.get(name)
    with pytest.raises(
        TypeError,
        match=rf"one layer is {unit.__name__}\(in_features, out_features\); "
        rf"{unit.__name__}\.stack\(100, 2, 1\) builds the network 100 -> 2 -> 1",
    ):
        unit(100, 2, 1)

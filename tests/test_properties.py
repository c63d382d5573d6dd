"""Laws that hold for all inputs, checked with hypothesis."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nalm.torch import NAC, NALU

SAT = 40.0  # tanh(40) and sigmoid(40) round to exactly 1.0 in float64
values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
positives = st.floats(min_value=1e-3, max_value=1e3)


@settings(max_examples=60, deadline=None)
@given(signs=st.lists(st.sampled_from([-1, 0, 1]), min_size=1, max_size=8), data=st.data())
def test_saturated_nac_computes_exact_signed_sums(signs, data):
    xs = data.draw(st.lists(values, min_size=len(signs), max_size=len(signs)))
    nac = NAC(len(signs), 1).double()
    with torch.no_grad():
        sign = torch.tensor(signs, dtype=torch.float64).unsqueeze(1)
        nac.W_hat.copy_(SAT * sign)  # tanh(+-40) = +-1; tanh(0) = 0 gives W = 0
        nac.M_hat.fill_(SAT)
    x = torch.tensor([xs], dtype=torch.float64)
    expected = sum(s * v for s, v in zip(signs, xs))
    torch.testing.assert_close(nac(x), torch.tensor([[expected]], dtype=torch.float64), rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(a=positives, b=positives)
def test_nalu_multiplicative_path_with_weights_one_minus_one_divides(a, b):
    nalu = NALU(2, 1, eps=1e-12).double()
    with torch.no_grad():
        nalu.W_hat.copy_(torch.tensor([[SAT], [-SAT]]))
        nalu.M_hat.fill_(SAT)
        nalu.G.fill_(-1e6)  # the gate is shut: g = sigmoid(x G) = 0 for positive x
    y = nalu(torch.tensor([[a, b]], dtype=torch.float64))
    torch.testing.assert_close(y, torch.tensor([[a / b]], dtype=torch.float64), rtol=1e-7, atol=0.0)

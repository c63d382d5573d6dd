"""The analysis' statistics: Wilson intervals of success rates."""

import pytest

from nalm.bench.analysis import wilson_interval


@pytest.mark.parametrize(
    "successes, trials, expected",
    [
        # z^2 / (n + z^2) = 3.8415 / 13.8415 for 0 of 10; symmetric for 10 of 10.
        (0, 10, (0.0, 0.277533)),
        (10, 10, (0.722467, 1.0)),
        # 0.5 -/+ z sqrt(0.025 + z^2 / 400) / (1 + z^2 / 10) = 0.5 -/+ 0.263407
        (5, 10, (0.236593, 0.763407)),
        (1, 1, (0.206549, 1.0)),  # 1 / (1 + z^2)
    ],
)
def test_wilson_interval_matches_hand_computed_values(successes, trials, expected):
    assert wilson_interval(successes, trials) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("successes, trials", [(0, 0), (11, 10), (-1, 10), (True, 10)])
def test_wilson_interval_rejects_impossible_counts(successes, trials):
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


@pytest.mark.parametrize("trials", [1, 3, 7, 20, 25, 100])
def test_wilson_interval_holds_the_rate_exactly_at_0_and_1(trials):
    assert wilson_interval(trials, trials)[1] == 1.0
    assert wilson_interval(0, trials)[0] == 0.0
    for successes in range(trials + 1):
        low, high = wilson_interval(successes, trials)
        assert low <= successes / trials <= high

"""The digit sequence tasks: images, splits, targets, models, seeds side by side, success bounds."""

import gzip
import math

import numpy as np
import pytest
import torch

from nalm.bench.analysis.statistics import success_bounds
from nalm.bench.engine import TrainConfig, ensemble_seeds, train_seeds
from nalm.bench.engine import loop as loop_module
from nalm.bench.engine.digit_problem import DigitProblem
from nalm.bench.models.digits import SEQUENCE_MODELS, DigitSequenceModel, build_sequence_model, r_z
from nalm.bench.tasks.digits import DigitSequenceTask, load_images, read_idx
from nalm.bench.tasks.streams import SeedStreams, indices

pytest.importorskip("sklearn")
TASK = DigitSequenceTask("sum", 3, (1, 3, 7))
COUNT, PRODUCT = DigitSequenceTask("count"), DigitSequenceTask("product", 2, (1, 2))
CONFIG = TrainConfig(steps=6, batch_size=4, eval_every=3, eval_size=5)


def test_sklearn_digits_are_split_by_image_into_disjoint_parts():
    data = load_images()
    assert data.images.shape == (1797, 1, 8, 8) and data.images.dtype == torch.float32
    assert 0 <= data.images.min() and data.images.max() <= 1
    parts = [set(data.splits[name].tolist()) for name in ("train", "validation", "test")]
    assert sum(map(len, parts)) == 1797 and len(set().union(*parts)) == 1797
    assert [len(p) for p in parts] == [1079, 359, 359]


def write_idx(path, array, compress=False):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_mnist_idx_files_are_read_and_their_test_file_is_the_test_split(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n, compress in (("train", 50, False), ("t10k", 20, True)):
        suffix = ".gz" if compress else ""
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), compress)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", rng.integers(0, 10, n), compress)
    data = load_images(str(tmp_path))
    assert data.images.shape == (70, 1, 28, 28) and data.images.max() <= 1
    assert data.splits["test"].tolist() == list(range(50, 70))
    assert len(data.splits["validation"]) == 10
    assert sorted(data.splits["train"].tolist() + data.splits["validation"].tolist()) == list(range(50))
    assert read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz").shape == (20,)


def test_bad_image_sources_are_refused_clearly(tmp_path):
    with pytest.raises(ValueError, match="'sklearn' or a folder"):
        load_images(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="lacks the MNIST file train-images-idx3-ubyte"):
        load_images(str(tmp_path))
    (tmp_path / "bad").write_bytes(b"\0\0\x08\x01\0\0\0\x05abc")
    with pytest.raises(ValueError, match="header gives shape"):
        read_idx(tmp_path / "bad")
    (tmp_path / "text").write_bytes(b"hello")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "text")


@pytest.mark.parametrize(
    "operation, expected",
    [
        ("sum", [[3.0], [4.0], [9.0]]),
        ("product", [[3.0], [3.0], [15.0]]),
    ],
)
def test_targets_are_cumulative(operation, expected):
    labels = torch.tensor([[3, 1, 5]])
    assert DigitSequenceTask(operation).targets(labels)[0].tolist() == expected


def test_count_targets_count_each_class():
    counts = DigitSequenceTask("count").targets(torch.tensor([2, 7, 2]))
    assert counts.shape == (3, 10)
    assert counts[-1, 2] == 2 and counts[-1, 7] == 1 and counts[-1].sum() == 3


def test_sequences_come_from_their_split_and_products_skip_zero():
    task = DigitSequenceTask("product", 2)
    data = task.data()
    positions, targets = task.sample(SeedStreams([0, 1], "train"), 50, 4, "test")
    chosen = task.pool("test")[positions]
    assert set(chosen.flatten().tolist()) <= set(data.splits["test"].tolist())
    assert (data.labels[chosen] > 0).all()
    assert torch.equal(targets, task.targets(data.labels[chosen]))


def test_a_seeds_sequences_do_not_depend_on_its_neighbours():
    alone, _ = TASK.sample(SeedStreams([5], "train"), 6, 3, "train")
    beside, _ = TASK.sample(SeedStreams([4, 5], "train"), 6, 3, "train")
    assert torch.equal(alone[0], beside[1]) and not torch.equal(beside[0], beside[1])


def test_indices_cover_their_range_evenly():
    drawn = indices(SeedStreams([0], "train"), 2000, 5, 7).flatten()
    assert drawn.min() == 0 and drawn.max() == 6
    counts = torch.bincount(drawn, minlength=7).double()
    assert (counts - 10000 / 7).abs().max() < 5 * math.sqrt(10000 / 7)
    with pytest.raises(ValueError, match="n must be"):
        indices(SeedStreams([0], "train"), 1, 1, 0)


@pytest.mark.parametrize("name, initial, fold", [("fixed_nau", 0.0, torch.cumsum), ("fixed_nmu", 1.0, torch.cumprod)])
def test_fixed_cells_fold_exactly(name, initial, fold):
    model = build_sequence_model(name, TASK).double()
    z = torch.tensor([[[2.0], [3.0], [-4.0], [0.5]]], dtype=torch.float64)
    assert torch.equal(model.fold(z), fold(z, dim=1))
    assert not model.cell.cell.W.requires_grad


def test_fixed_count_cell_adds_each_class_to_its_own_count():
    model = build_sequence_model("fixed_nau", COUNT).double()
    z = torch.eye(10, dtype=torch.float64)[[3, 3, 9]][None]
    assert model.fold(z)[0, -1].tolist() == [0.0] * 3 + [2.0] + [0.0] * 5 + [1.0]


def test_r_z_is_the_published_penalty_over_the_cells_inputs():
    model = DigitSequenceModel("nmu", 3, lambda_z=2.0)
    step = 1  # the sparsity ramp starts at 0: at step 1 it is lambda 1e-4, added separately below
    images = torch.rand(4, 5, 1, 8, 8)
    states = model(images)
    z = model.read(images)
    h = torch.cat([torch.ones(4, 1, 3), states[:, :-1]], dim=1)  # h_0 = 1, then h_1 .. h_4
    x_mean = torch.cat([h, z], dim=-1).mean(dim=(0, 1)).tolist()  # the cell reads [h_{t-1}, z_t]
    W = model.cell.cell.W.detach().tolist()  # (H_in = 3 + 3, H_out = 3)
    by_hand = sum((1 - W[i][o]) * (1 - x_mean[i]) ** 2 for i in range(6) for o in range(3)) / (6 * 3)
    expected = 2.0 * by_hand + model.cell.regularization_loss(step).item()
    assert model.regularization_loss(step).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="R_z .* nau and nmu cells"):
        DigitSequenceModel("nac", 1, lambda_z=1.0)


def test_the_nau_cells_r_z_pulls_what_it_ignores_towards_zero():
    W = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -0.5], [0.25, -1.0]], dtype=torch.float64)
    x_mean = torch.tensor([0.0, 0.0, 3.0, -2.0], dtype=torch.float64)
    by_hand = ((1 - 1.0) * 9 + (1 - 0.5) * 9 + (1 - 0.25) * 4 + (1 - 1.0) * 4) / 8
    assert r_z("nau", W, x_mean).item() == pytest.approx(by_hand, rel=1e-12)
    assert r_z("nau", W, torch.zeros(4, dtype=torch.float64)).item() == 0.0  # inputs at the sum's identity
    negated = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)  # h_t = h_{t-1} - z_t: |W| = 1, no penalty
    assert r_z("nau", negated, torch.tensor([5.0, 3.0], dtype=torch.float64)).item() == 0.0
    with pytest.raises(ValueError, match="nau and nmu cells"):
        r_z("nac", W, x_mean)


@pytest.mark.parametrize(
    "name, task, lambda_z",
    [
        ("nau", TASK, 1.0),
        ("nmu", PRODUCT, 1.0),  # as published: NAU sum, NMU product
        ("nmu", TASK, 1.0),
        ("nau", PRODUCT, 1.0),  # the same rule on the other operation
        ("nau", COUNT, 0.0),
        ("fixed_nau", TASK, 0.0),
        ("fixed_nmu", PRODUCT, 0.0),
        ("nac", TASK, 0.0),
    ],
)
def test_models_carry_r_z_where_published(name, task, lambda_z):
    model = build_sequence_model(name, task)
    assert model.lambda_z == lambda_z
    assert ("R_z 1" in SEQUENCE_MODELS[name].describe(task.operation)) == (lambda_z > 0)
    images = torch.rand(4, 5, 1, 8, 8)
    model(images)
    assert (model.regularization_loss(1) != model.cell.regularization_loss(1)) == (lambda_z > 0)


@pytest.mark.parametrize("name", ["nac", "nalu"])
def test_nac_and_nalu_cells_start_as_published(name):
    model = build_sequence_model(name, TASK)
    assert model.cell.cell.init == "glorot_w"
    assert SEQUENCE_MODELS[name].describe(TASK.operation) == f"{name} cell, init glorot_w"


def test_every_model_maps_image_sequences_to_outputs_per_step():
    images = torch.rand(2, 5, 1, 8, 8)
    for name in SEQUENCE_MODELS:
        for task in (TASK, COUNT):
            assert build_sequence_model(name, task)(images).shape == (2, 5, task.outputs)
    with pytest.raises(ValueError, match="B, T, C, H, W"):
        build_sequence_model("nau", TASK)(torch.rand(5, 1, 8, 8))
    with pytest.raises(ValueError, match="no exact solution"):
        DigitSequenceModel("lstm", 1, fixed=True)
    with pytest.raises(ValueError, match="unknown model .gru."):
        build_sequence_model("gru", TASK)


def test_seeds_side_by_side_train_as_they_would_alone():
    build = lambda: build_sequence_model("nau", TASK)
    together = train_seeds(build, TASK, CONFIG, [3, 8])
    alone = train_seeds(build, TASK, CONFIG, [8])
    assert together[1].evaluations == alone[0].evaluations
    assert together[0].evaluations != together[1].evaluations
    evaluation = together[1].final
    assert (
        evaluation.step == 6
        and len(evaluation.test_mse) == 3
        and evaluation.extrapolation_mse == evaluation.test_mse[-1]
    )


def test_a_resumed_run_ends_as_the_uninterrupted_one(tmp_path, crash_before_saving):
    build = lambda: build_sequence_model("nmu", PRODUCT)
    task = DigitSequenceTask("product", 2, (1, 4))
    whole = train_seeds(build, task, CONFIG, [0, 1])
    checkpoint = tmp_path / "run.pt"
    with crash_before_saving(6):
        train_seeds(build, task, CONFIG, [0, 1], checkpoint=checkpoint)
    resumed = train_seeds(build, task, CONFIG, [0, 1], checkpoint=checkpoint)
    assert [r.evaluations for r in resumed] == [r.evaluations for r in whole]


def test_the_ensembles_penalty_counts_the_living_members():
    model = ensemble_seeds(lambda: build_sequence_model("nau", TASK), [0, 1])
    for member in model.members:  # R_z needs a forward pass
        member(torch.rand(4, 3, 1, 8, 8))
    each = [m.regularization_loss(1) for m in model.members]
    assert torch.equal(model.regularization_loss(1), each[0] + each[1])
    assert torch.equal(model.regularization_loss(1, torch.tensor([False, True])), 0 + each[1])
    assert model.regularization_loss(1, torch.tensor([False, False])).item() == 0.0
    with pytest.raises(ValueError, match="one entry per member"):
        model.regularization_loss(1, torch.tensor([True]))


def test_a_diverged_member_is_zeroed_and_left_out():
    build = lambda: build_sequence_model("nau", TASK)
    clean = train_seeds(build, TASK, CONFIG, [0, 1])
    model = ensemble_seeds(build, [0, 1])
    with torch.no_grad():
        model.members[1].reader.layers[-1].bias.fill_(float("nan"))
    results = loop_module.train_stacked(model, TASK, CONFIG, [0, 1])
    assert results[1].diverged and [e.step for e in results[1].evaluations] == [1]
    assert all((p == 0).all() for p in model.members[1].parameters())
    assert results[0].evaluations == clean[0].evaluations  # the other seed trains on, untouched
    batches = DigitProblem(model, TASK, [0, 1])
    optimizer = torch.optim.Adam(model.parameters())
    batches.errors(2).sum().backward()
    optimizer.step()
    batches.reset(optimizer, torch.tensor([True, False]))
    assert all((optimizer.state[p]["exp_avg"] == 0).all() for p in model.members[0].parameters())


def test_training_batches_read_training_images_under_their_own_targets():
    model = ensemble_seeds(lambda: build_sequence_model("fixed_nau", TASK), [0])
    data = TASK.data()
    oracle = {}  # an exact reader: the label of each image, by its pixels
    for index in data.splits["train"].tolist():
        oracle[data.images[index].numpy().tobytes()] = float(data.labels[index])

    class Oracle(torch.nn.Module):
        def forward(self, images):
            return torch.tensor([[oracle[image.numpy().tobytes()]] for image in images])

    model.members[0].reader = Oracle()
    assert DigitProblem(model, TASK, [0]).errors(16).item() == 0.0  # a validation or test image would raise KeyError


def test_success_bound_is_the_upper_one_percent_student_t_bound():
    runs = [[1.0, 10.0], [2.0, 30.0], [3.0, 20.0]]
    t = 6.964556734283274  # Student's t, 2 degrees of freedom, 0.99 quantile
    expected = [2.0 + t * 1.0 / math.sqrt(3), 20.0 + t * 10.0 / math.sqrt(3)]
    assert success_bounds(runs) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="at least 2 baseline runs"):
        success_bounds([[1.0, 2.0]])
    with pytest.raises(ValueError, match="not finite"):
        success_bounds([[1.0], [math.inf]])


def test_the_recurrence_error_is_zero_exactly_for_the_exact_recurrence():
    assert build_sequence_model("fixed_nau", COUNT).recurrence_error() == 0.0
    assert build_sequence_model("fixed_nmu", PRODUCT).recurrence_error() == 0.0
    assert build_sequence_model("nau", TASK).recurrence_error() > 0
    assert build_sequence_model("lstm", TASK).recurrence_error() is None


def test_summaries_judge_each_length_by_the_baseline_of_the_operation():
    from nalm.bench.analysis import summarize_sequences

    def row(model, seed, mse, error):
        return {
            "task": "digits",
            "model": model,
            "operation": "sum",
            "seed": seed,
            "test_lengths": [1, 10],
            "test_mse": mse,
            "recurrence_error": error,
            "diverged": False,
        }

    rows = [
        row("fixed_nau", 0, [1.0, 10.0], 0.0),
        row("fixed_nau", 1, [1.2, 12.0], 0.0),
        row("nau", 0, [0.5, 100.0], 0.0),
        row("nau", 1, [9.0, 9.0], 0.3),
        row("nau", 2, [1.0, None], 1e-7),
    ]
    summaries = {s.configuration.model: s for s in summarize_sequences(rows)}
    nau = summaries["nau"]
    assert nau.bounds == pytest.approx(success_bounds([[1.0, 10.0], [1.2, 12.0]]))
    assert nau.successes == (2, 1) and nau.exact == 2 and nau.runs == 3
    assert nau.median_mse == (1.0, 100.0)  # a null (non-finite) MSE counts as infinite
    alone = summarize_sequences(rows[2:])
    assert alone[0].bounds is None and alone[0].successes is None
    diverged_baseline = [rows[0], {**rows[1], "test_mse": [1.0, None]}, *rows[2:]]
    assert summarize_sequences(diverged_baseline)[-1].successes is None

"""The digit sequence tasks: a network reads one digit image per time step and a recurrent unit
folds what it reads (Trask et al. 2018, section 4.2; Madsen and Johansen 2020, sequential MNIST).

Images come from scikit-learn's bundled 8x8 digits (1,797 images, no download), or from the
MNIST IDX files in a folder the user names. They are split into train, validation and test
images once, by image, so no validation or test image is ever seen in training. A sequence is
``length`` images drawn with replacement from one split by the seed's streams
([`nalm.bench.tasks.streams`][nalm.bench.tasks.streams]); its targets are cumulative, one per time step:

- ``count``: how many of each class so far, 10 outputs (t_i = t_{i-1} + onehot(label_i));
- ``sum``: the sum of the digits so far (t_i = t_{i-1} + label_i);
- ``product``: their product so far (t_i = t_{i-1} * label_i), of the digits 1..9.
"""

from __future__ import annotations

import functools
import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nalm.bench.tasks.streams import SeedStreams, indices
from nalm.validation import choice, positive_int

SEQUENCE_OPERATIONS = ("count", "sum", "product")
"""The digit tasks; ``count`` has 10 outputs, the others 1."""

SPLITS = ("train", "validation", "test")

MAX_LENGTH = 100_000
"""The longest sequence a task may ask for."""

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""The MNIST IDX files a folder must hold (each may also be gzipped, with ".gz")."""


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST's format; gzipped if its name ends in .gz) as an array of unsigned bytes.

    Raises ValueError for a file that is not an IDX file of unsigned bytes of the size its header says.
    """
    path = Path(path)
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (its first bytes are {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + math.prod(shape):
        raise ValueError(f"{path}: its header gives shape {shape}, but it holds {len(data) - header} values")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _mnist_file(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise ValueError(f"{folder} lacks the MNIST file {name} (or {name}.gz)")


@dataclass(frozen=True)
class DigitImages:
    """Images (N, 1, H, W) float32 in [0, 1], their labels (N,) int64 in 0..9, and the image
    indices of each split (train, validation, test), which do not share an image."""

    images: torch.Tensor
    labels: torch.Tensor
    splits: dict[str, torch.Tensor]


def _split(n: int, validation: int, test: int) -> list[torch.Tensor]:
    """A fixed random permutation of range(n) cut into three parts: the rest, ``validation`` and ``test`` indices."""
    order = torch.argsort(indices(SeedStreams([0], "subsets"), 1, n, 1 << 24)[0, 0], stable=True)
    return [order[: n - validation - test], order[n - validation - test : n - test], order[n - test :]]


@functools.lru_cache(maxsize=4)
def load_images(source: str = "sklearn", validation_fraction: float = 0.2, test_fraction: float = 0.2) -> DigitImages:
    """The images of ``source``: "sklearn" (scikit-learn's 8x8 digits: a random ``test_fraction``
    of them for test, ``validation_fraction`` for validation, the rest for training), or a folder
    holding the MNIST IDX files ([`MNIST_FILES`][nalm.bench.tasks.digits.MNIST_FILES]; the test file is the test split, and
    ``validation_fraction`` of the training file is held out for validation). Nothing is downloaded.
    """
    for name, fraction in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not isinstance(fraction, (int, float)) or not 0 < fraction < 0.5:
            raise ValueError(f"{name} must be in (0, 0.5), got {fraction!r}")
    if source == "sklearn":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise ValueError("the 'sklearn' digits need scikit-learn: pip install 'nalm[digits]'") from None
        digits = load_digits()
        images = torch.from_numpy(digits.images / 16.0).float()[:, None]
        labels = torch.from_numpy(digits.target).long()
        n = len(labels)
        splits = _split(n, round(validation_fraction * n), round(test_fraction * n))
        return DigitImages(images, labels, dict(zip(SPLITS, splits)))
    folder = Path(source)
    if not folder.is_dir():
        raise ValueError(f"images must be 'sklearn' or a folder holding the MNIST IDX files, got {source!r}")
    arrays = {split: [read_idx(_mnist_file(folder, name)) for name in names] for split, names in MNIST_FILES.items()}
    for split, (split_images, split_labels) in arrays.items():
        if split_images.ndim != 3 or split_labels.shape != split_images.shape[:1] or split_labels.max() > 9:
            raise ValueError(f"{folder}: the {split} files are not MNIST images (N, H, W) with labels 0..9")
    n = len(arrays["train"][1])
    train, validation, _ = _split(n, round(validation_fraction * n), 0)
    images = torch.from_numpy(np.concatenate([arrays["train"][0], arrays["test"][0]]) / 255.0).float()[:, None]
    labels = torch.from_numpy(np.concatenate([arrays["train"][1], arrays["test"][1]]).astype(np.int64))
    test = torch.arange(n, len(labels))
    return DigitImages(images, labels, {"train": train, "validation": validation, "test": test})


MAX_VALUES = 2**31
"""The most values (8 GiB in float32) a training batch or an evaluation set of a digit task may hold."""
READER_VALUES_PER_PIXEL = 50
"""Values a CNN reader holds in training per input pixel: the image, its two layers' activations
(16 channels, then 32 at half the resolution) and their gradients."""


def check_memory(task: DigitSequenceTask, seeds: int, batch_size: int, eval_size: int) -> None:
    """Raise ValueError, before any training, if ``seeds`` models of ``task`` with batches of
    ``batch_size`` sequences, or its evaluation sets of ``eval_size`` sequences, would hold more
    than [`MAX_VALUES`][nalm.bench.tasks.digits.MAX_VALUES] values (the images of a folder of MNIST files counted as 28 x 28)."""
    pixels = 8 * 8 if task.images == "sklearn" else 28 * 28
    train = seeds * batch_size * task.train_length * pixels * READER_VALUES_PER_PIXEL
    if train > MAX_VALUES:
        raise ValueError(
            f"seeds x batch_size x train_length x pixels x {READER_VALUES_PER_PIXEL} = {train:,} values to train one "
            f"batch, more than {MAX_VALUES:,} ({MAX_VALUES * 4 / 2**30:.0f} GiB in float32); use fewer seeds or sequences"
        )
    test = seeds * eval_size * max(task.test_lengths) * (2 + task.outputs)  # positions, outputs, targets
    if test > MAX_VALUES:
        raise ValueError(
            f"seeds x eval_size x longest test length x (2 + outputs) = {test:,} values to evaluate, more than "
            f"{MAX_VALUES:,}; use fewer seeds, evaluation sequences or shorter test lengths"
        )


def lengths(name: str, values: object) -> tuple[int, ...]:
    """``values`` checked as increasing sequence lengths in [1, MAX_LENGTH], as a tuple."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (tuple, list)) or not values:
        raise ValueError(f"{name} must be a non-empty sequence of lengths, got {values!r}")
    lengths = tuple(positive_int(name[:-1], v, at_most=MAX_LENGTH) for v in values)
    if list(lengths) != sorted(set(lengths)):
        raise ValueError(f"{name} must be increasing, got {values!r}")
    return lengths


@dataclass(frozen=True)
class DigitSequenceTask:
    """A digit sequence task: trained on sequences of ``train_length`` images of the train split,
    model selection on sequences of that length from the validation split, tested on sequences of
    each of ``test_lengths`` from the test split. ``images`` is a [`load_images`][nalm.bench.tasks.digits.load_images] source.

    Defaults: the sum of Madsen and Johansen (trained on 10, tested up to 1000).
    """

    operation: str = "sum"
    train_length: int = 10
    test_lengths: tuple[int, ...] = (1, 10, 100, 1000)
    images: str = "sklearn"

    def __post_init__(self) -> None:
        object.__setattr__(self, "operation", choice("operation", self.operation, SEQUENCE_OPERATIONS))
        positive_int("train_length", self.train_length, at_most=MAX_LENGTH)
        object.__setattr__(self, "test_lengths", lengths("test_lengths", self.test_lengths))
        if not isinstance(self.images, str):
            raise ValueError(f"images must be 'sklearn' or a folder's path, got {self.images!r}")

    @property
    def outputs(self) -> int:
        """Values per time step: 10 class counts for ``count``, else 1."""
        return 10 if self.operation == "count" else 1

    @property
    def classes(self) -> tuple[int, ...]:
        """The digits a sequence draws from: 1..9 for ``product`` (as published: a 0 would end
        every product), else 0..9."""
        return tuple(range(1 if self.operation == "product" else 0, 10))

    def data(self) -> DigitImages:
        return load_images(self.images)

    def pool(self, split: str) -> torch.Tensor:
        """The image indices of ``split`` whose label is one of `classes`."""
        data = self.data()
        chosen = data.splits[choice("split", split, SPLITS)]
        return chosen[torch.isin(data.labels[chosen], torch.tensor(self.classes))]

    def targets(self, labels: torch.Tensor) -> torch.Tensor:
        """Cumulative targets of label sequences (..., T) int64: (..., T, outputs) float64."""
        if self.operation == "count":
            return torch.nn.functional.one_hot(labels, 10).double().cumsum(-2)
        values = labels.double()[..., None]
        return values.cumsum(-2) if self.operation == "sum" else values.cumprod(-2)

    def sample(self, streams: SeedStreams, rows: int, length: int, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``rows`` sequences of ``length`` images of ``split`` from each seed's stream:
        positions (S, rows, length) into `pool` of ``split``, and the targets
        (S, rows, length, outputs) float64."""
        pool = self.pool(split)
        positions = indices(streams, rows, length, len(pool))
        return positions, self.targets(self.data().labels[pool[positions]])

"""The benchmark's models: the published static models (unit pairs and baselines) and the digit
sequence models (a CNN reader and a recurrent cell), the language models (an LSTM and a cell). Imports only the tasks of nalm.bench."""

from nalm.bench.models.digits import SEQUENCE_MODELS, DigitSequenceModel, build_sequence_model
from nalm.bench.models.language import LANGUAGE_MODELS, NumberReader, build_language_model
from nalm.bench.models.sparsity import network_sparsity, sparsity_error
from nalm.bench.models.static import ACTIVATIONS, MODELS, Dense, Model, build_published_model, build_unit_stack

__all__ = [
    "LANGUAGE_MODELS",
    "NumberReader",
    "build_language_model",
    "ACTIVATIONS",
    "MODELS",
    "SEQUENCE_MODELS",
    "Dense",
    "DigitSequenceModel",
    "Model",
    "build_published_model",
    "build_sequence_model",
    "build_unit_stack",
    "network_sparsity",
    "sparsity_error",
]

"""Keras 3 layers: ``NAC``, ``NACMul`` (NAC*), ``NALU``, ``NAU``, ``NMU``, ``INALU``, ``NPU``, ``RealNPU``, ``NRU``,
``NMRU``, ``SignNMRU``, ``TiedSignNMRU``, ``SNMU``, ``MCFC``, ``MulMCFC``, written with
``keras.ops`` so they run on every backend; ``Recurrent`` makes any of them a recurrent layer.

Keras picks its backend when it is first imported, from ``KERAS_BACKEND`` or ``~/.keras/keras.json``
(TensorFlow when neither says otherwise). nalm needs no TensorFlow: run with
``KERAS_BACKEND=torch`` or ``KERAS_BACKEND=jax`` (the layers run on TensorFlow too, where installed).

``UNITS`` maps each registered name to its layer class, with the same names as ``nalm.torch``:

    from nalm.keras import UNITS
    layer = UNITS.get("nalu")(units=2)
"""

try:
    import keras  # noqa: F401  (imported here only to turn a missing TensorFlow into a clear error)
except ModuleNotFoundError as error:
    if error.name is None or not error.name.startswith("tensorflow"):
        raise
    raise ImportError(
        "Keras is set to its TensorFlow backend, which is not installed. nalm.keras does not need "
        "TensorFlow: set KERAS_BACKEND=torch or KERAS_BACKEND=jax before importing keras or nalm.keras."
    ) from error

from nalm.keras.base import UNITS, ArithmeticLayer, IdentityOrOrthogonal, NACUniform, NAUUniform, Orthogonal

# Importing a unit's module registers it: this order, the papers' order, is the registry's order.
from nalm.keras.nalu import NAC, NALU, NACMul  # isort: skip
from nalm.keras.nau import NAU, NMU  # isort: skip
from nalm.keras.inalu import INALU  # isort: skip
from nalm.keras.npu import NPU, RealNPU  # isort: skip
from nalm.keras.division import NMRU, NRU, SignNMRU, TiedSignNMRU  # isort: skip
from nalm.keras.snmu import SNMU  # isort: skip
from nalm.keras.mcfc import MCFC, MulMCFC  # isort: skip
from nalm.keras.recurrent import Recurrent  # isort: skip

__all__ = [
    "UNITS",
    "ArithmeticLayer",
    "NAC",
    "NACMul",
    "NALU",
    "NAU",
    "NMU",
    "NAUUniform",
    "NACUniform",
    "INALU",
    "NPU",
    "RealNPU",
    "NRU",
    "NMRU",
    "SignNMRU",
    "TiedSignNMRU",
    "SNMU",
    "MCFC",
    "MulMCFC",
    "Orthogonal",
    "IdentityOrOrthogonal",
    "Recurrent",
]

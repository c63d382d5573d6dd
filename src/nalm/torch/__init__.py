"""PyTorch units, stacks of them, and an arithmetic head for CNN backbones.

The units: ``NAC``, ``NALU`` (Trask et al. 2018), ``NACMul`` (NAC*), ``NAU``, ``NMU`` (Madsen & Johansen 2020),
``INALU`` (Schlör et al. 2020), ``NPU``, ``RealNPU`` (Heim et al. 2020), ``NRU``, ``NMRU``, ``SignNMRU``, ``TiedSignNMRU``
(Mistry et al. 2021), ``SNMU`` (Mistry et al. 2022), ``MCFC``, ``MulMCFC`` (Hoedt et al. 2021);
``Recurrent`` makes any of them a recurrent cell. ``UNITS`` maps each
registered name to its module class:

    from nalm.torch import UNITS
    layer = UNITS.get("nalu")(in_features=4, out_features=2)
"""

from nalm.torch.base import UNITS, ArithmeticUnit, UnitStack

# Importing a unit's module registers it: this order, the papers' order, is the registry's order.
from nalm.torch.nalu import NAC, NALU, NACMul  # isort: skip
from nalm.torch.nau import NAU, NMU  # isort: skip
from nalm.torch.inalu import INALU, reinitialize_if_stuck  # isort: skip
from nalm.torch.npu import NPU, RealNPU  # isort: skip
from nalm.torch.division import NMRU, NRU, SignNMRU, TiedSignNMRU  # isort: skip
from nalm.torch.snmu import SNMU  # isort: skip
from nalm.torch.mcfc import MCFC, MulMCFC  # isort: skip
from nalm.torch.head import ArithmeticHead, build_head  # isort: skip
from nalm.torch.recurrent import Recurrent  # isort: skip

__all__ = [
    "UNITS",
    "ArithmeticUnit",
    "UnitStack",
    "NAC",
    "NACMul",
    "NALU",
    "NAU",
    "NMU",
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
    "reinitialize_if_stuck",
    "ArithmeticHead",
    "build_head",
    "Recurrent",
]

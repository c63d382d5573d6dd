"""PyTorch units: ``NAC``, ``NALU``, stacks of them, and an arithmetic head for CNN backbones.

``UNITS`` maps each registered name to its module class::

    from nalm.torch import UNITS
    layer = UNITS.get("nalu")(in_features=4, out_features=2)
"""

from nalm.torch.base import UNITS, ArithmeticUnit, UnitStack
from nalm.torch.head import ArithmeticHead, build_head
from nalm.torch.nalu import NAC, NALU

__all__ = ["UNITS", "ArithmeticUnit", "UnitStack", "NAC", "NALU", "ArithmeticHead", "build_head"]

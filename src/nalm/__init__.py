"""nalm: neural arithmetic logic modules for PyTorch (``nalm.torch``) and Keras 3 (``nalm.keras``).

The units' formulas live in :mod:`nalm.functional`; the frameworks' modules and layers are thin
adapters over them, listed by name in each framework's registry.
"""

__version__ = "0.1.0"

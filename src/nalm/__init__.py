"""nalm: neural arithmetic logic modules for PyTorch (``nalm.torch``) and Keras 3 (``nalm.keras``).

The units' formulas live in [`nalm.functional`][nalm.functional]; the frameworks' modules and layers are thin
adapters over them, listed by name in each framework's registry.
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("nalm")  # the installed distribution's: pyproject.toml's version, its one source
except _metadata.PackageNotFoundError:  # the sources imported without installing them (e.g. PYTHONPATH=src)
    __version__ = "0+unknown"

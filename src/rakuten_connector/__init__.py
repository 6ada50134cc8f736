"""Links a merchant's Rakuten France shop to Cubyn fulfilment."""

from importlib.metadata import version

# The installed distribution's version (pyproject.toml's): the one place it is read.
__version__ = version("rakuten-connector")

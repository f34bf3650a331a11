"""proclab: procedural-compliance reasoning research toolkit."""

__version__ = "0.1.0"

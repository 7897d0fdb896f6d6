"""Recruitment risk screening for Viet Nam: rules and a classifier over job ads.

    from screening import Screener
    s = Screener.load()
    a = s.screen("Việc nhẹ lương cao sang Campuchia, bao vé máy bay")
    s.to_dict(a)

Importing the package reads no file; ``Screener.load()`` reads the catalogue and the model.
"""

__version__ = "0.1.0"

__all__ = ["Screener", "__version__"]


def __getattr__(name: str):
    if name == "Screener":
        from .screener import Screener

        return Screener
    raise AttributeError(name)

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def catalogue():
    from screening.catalogue import Catalogue

    return Catalogue.load()


@pytest.fixture(scope="session")
def rules_screener(catalogue):
    """Rules only: what the rules catalogue does on its own."""
    from screening.screener import Screener

    return Screener(catalogue, None)


@pytest.fixture(scope="session")
def screener():
    """The full screener as shipped (rules and, when a model is shipped, the classifier)."""
    from screening.screener import Screener

    return Screener.load()


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def rules_screener_h(rules_screener):
    """The rules screener for hypothesis tests (a session fixture is safe: it holds no state)."""
    return rules_screener

"""Fixtures for the knowledge tests: the real Brick ontologies, loaded once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def brick12():
    import kgtransfer as kgt

    return kgt.load("brick:1.2")


@pytest.fixture(scope="session")
def brick14():
    import kgtransfer as kgt

    return kgt.load("brick:1.4")

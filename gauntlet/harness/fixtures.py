"""Tag-selected fixtures (Behave's ``use_fixture_by_tag``): ``@fixture.<name>`` on a feature or
scenario sets up what it needs for exactly that feature or scenario, and cleans up after it.

A fixture is a generator function ``fixture(context, *args)`` decorated with
``behave.fixture``; register it in :data:`FIXTURES` under its tag.
"""

from __future__ import annotations

from behave.fixture import use_fixture_by_tag

FIXTURES: dict = {}


def register(tag: str):
    """Decorator: make a behave fixture available as ``@<tag>``."""
    def add(fixture_function):
        FIXTURES[tag] = fixture_function
        return fixture_function
    return add


def load() -> None:
    """Import the modules that register fixtures (kept lazy: each pulls in its own domain)."""
    for module in ("gauntlet.local.drs.fixture", "gauntlet.soak.fixture"):
        try:
            __import__(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def before_tag(context, tag: str):
    if tag.startswith("fixture."):
        if tag not in FIXTURES:
            load()
        if tag not in FIXTURES:
            raise LookupError(f"@{tag}: no such fixture (known: {', '.join(sorted(FIXTURES))})")
        return use_fixture_by_tag(tag, context, FIXTURES)
    return None

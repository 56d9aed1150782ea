"""The run model: plan, flags, breakpoints, diagnostics, journal, ledger, teardown.

``environment.py`` takes its hooks from :mod:`gauntlet.harness.behave_hooks`.
"""

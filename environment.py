"""Behave hooks: the run's lifecycle lives in gauntlet.harness (targets, journal, diagnostics,
teardown, tag fixtures). Keep this file to this line."""

from gauntlet.harness.behave_hooks import *  # noqa: F401,F403

"""Every Behave hook Gauntlet needs, for ``from gauntlet.harness.behave_hooks import *`` in an
``environment.py`` (the project's, or a fixture plan's)."""

from gauntlet.harness.fixtures import before_tag
from gauntlet.harness.hooks import (
    after_all,
    after_feature,
    after_scenario,
    before_all,
    before_feature,
    before_scenario,
)

__all__ = ["after_all", "after_feature", "after_scenario", "before_all", "before_feature",
           "before_scenario", "before_tag"]

"""The run model: plan, flags, breakpoints, diagnostics, journal, ledger, teardown.

``environment.py`` imports the hooks from here.
"""

from gauntlet.harness.fixtures import before_tag  # noqa: F401
from gauntlet.harness.hooks import (  # noqa: F401
    after_all,
    after_scenario,
    before_all,
    before_feature,
    before_scenario,
)

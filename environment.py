"""Behave hooks: the run's lifecycle lives in gauntlet.harness (targets, journal, diagnostics,
teardown). Keep this file to these few lines."""

from gauntlet.harness import (  # noqa: F401
    after_all,
    after_scenario,
    before_all,
    before_feature,
    before_scenario,
    before_tag,
)


def after_feature(context, feature):
    context.gauntlet.allure.after_feature(context, feature)

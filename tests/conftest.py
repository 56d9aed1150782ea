"""Shared pytest fixtures."""

import logging

import pytest

from gauntlet.local.endpoint import LoopbackEndpoint


@pytest.fixture(scope="module")
def endpoint():
    """A real moto endpoint on 127.0.0.1 for this test module, with boto3 pointed at it."""
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)  # one line per request costs seconds under pytest
    with pytest.MonkeyPatch.context() as env:
        ep = LoopbackEndpoint(services={}).start()
        env.setenv("AWS_ENDPOINT_URL", ep.url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        try:
            yield ep
        finally:
            ep.stop()
            werkzeug.setLevel(level)


@pytest.fixture
def power(cluster):
    """Power control of the module's local ``cluster``; afterwards every node runs again."""
    power = cluster.power()
    yield power
    for node in power.nodes():
        if power.node_state(node) != "running":
            power.start_node(node)
    cluster.wait_healthy(20)

"""``@fixture.local-cluster``: a real 3-node etcd cluster for one feature (the @switchover ones).

Started under the behave run's dir (``reports/<run-id>/local-cluster/<feature>/``), recorded in the run's
resource ledger before the feature relies on it (so ``--teardown-only`` reaps it after a kill),
and stopped after the feature. ``context.local_cluster`` is the
:class:`~gauntlet.local.nodes.cluster.LocalCluster`.

Only one local cluster runs on a machine at a time (it holds a lock), so a scenario that starts
``gauntlet soak`` as a process (which starts its own) belongs to a feature without this fixture.
"""

from __future__ import annotations

from pathlib import Path

from behave.fixture import fixture

from gauntlet.harness.fixtures import register
from gauntlet.local.nodes.cluster import LocalCluster


@register("fixture.local-cluster")
@fixture
def local_cluster(context, timeout: float = 30.0):
    """The feature's local cluster: ``context.local_cluster``."""
    run = context.gauntlet.run
    feature = Path(context.feature.filename).stem  # a fresh cluster (and data) per feature
    cluster = LocalCluster(run.dir / "local-cluster" / feature, on_started=run.ledger.record,
                           on_stopped=run.ledger.release)
    cluster.start(timeout)
    context.local_cluster = cluster
    try:
        yield cluster
    finally:
        from gauntlet.soak.substrate import stop_cluster

        stop_cluster(cluster)
        context.local_cluster = None

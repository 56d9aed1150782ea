@switchover @needs.k8s
Feature: The ACM hub switchover on real hubs
  Requirement 003 against real clusters: the two hub contexts of the target's kubeconfig
  ([k8s] kubeconfig, primary_context, secondary_context). The phases act through the kubernetes
  client: BackupSchedule paused on the primary, activation Restore on the secondary, ManagedClusters
  Available there, observability Ready, a BackupSchedule enabled on the new primary.

  @trace.003.run.cluster-access
  Scenario: Clients for both hub contexts are created and access to both is validated
    When the hub clients are created for the target's two contexts
    Then both hubs answer with their Kubernetes version

  @trace.003.cycles.single
  Scenario: One hub switchover cycle runs its five phases and moves the managed clusters
    When a hub soak of 1 cycle runs on the target's hubs
    Then cycle 1 passed with every phase in order, each timed

@switchover @fixture.local-cluster
Feature: Monitoring during soak cycles
  Requirement 003, phase 2: a resource monitor polls while cycles run and writes a metrics time
  series and structured alerts to metrics.jsonl. Offline it polls the etcd members: health,
  leader, database size and the RSS of each member's process; on hubs, ManagedClusters, Restore,
  BackupSchedule and observability.

  Background:
    Given the local cluster is healthy

  @trace.003.monitoring.resource-polling
  Scenario: The monitor polls member health, leader, database size and process RSS during cycles
    When a soak of 3 cycles runs with
      | option             | value |
      | --monitor-interval | 0.1   |
    Then every cycle has monitoring samples with each member's health, state, database size and RSS, and the leader
    And every sample has the orchestrator's own RSS

  @trace.003.monitoring.alerts
  Scenario: A member that stops answering raises one structured alert
    When a soak of 1 cycle runs with
      | option             | value        |
      | --inject-failure   | pause-member |
      | --monitor-interval | 0.1          |
    Then the monitor raised exactly one "warning" alert "member-unhealthy" for the secondary of cycle 1
    And every alert has a time, a severity, a rule, a message and its cycle id

  @trace.003.monitoring.timeseries-jsonl
  Scenario: The samples form a time series in metrics.jsonl
    When a soak of 3 cycles runs with
      | option             | value |
      | --monitor-interval | 0.1   |
    Then the samples in metrics.jsonl are in time order and tagged with their cycles
    And the analyzer counts every sample

  @needs.k8s @trace.003.monitoring.resource-polling
  Scenario: On the hubs the monitor polls ManagedClusters, Restore, BackupSchedule and observability
    When a hub soak of 1 cycle runs on the target's hubs
    Then every hub sample counts available ManagedClusters and has the Restore, BackupSchedule and observability state

@switchover @fixture.local-cluster
Feature: Failure injection and rollback
  Requirement 003, phase 3: --inject-failure injects a fault into every cycle at the phase chosen
  by --inject-at-phase (default activation); after the cycle the fault is cleared and recovery is
  verified: a failed cycle is rolled back (the primary leads again), a passed one keeps the new
  leader, and the data written through the switchovers is intact.
  Offline the faults act on the local cluster (pause-member: SIGSTOP the secondary; delay-activation:
  SIGSTOP it for a while; kill-member: SIGKILL the leading primary); the document's hub faults
  (pause-backup, delay-restore, kill-observability-pod) go through the kubernetes client and need
  a hub target. Each offline fault mirrors its hub counterpart: a paused dependency, a delayed
  step, a killed process.

  Background:
    Given the local cluster is healthy

  @trace.003.failure-injection.pause-backup
  Scenario: pause-member: the paused secondary fails the activation, which is rolled back
    When a soak of 1 cycle runs with
      | option           | value        |
      | --inject-failure | pause-member |
    Then cycle 1 was injected with "pause-member" at activation
    And cycle 1 failed in activation with an error naming "to be healthy"
    And recovery of cycle 1 was verified: rolled back, the primary leads
    And every member runs and is healthy again

  @trace.003.failure-injection.delay-restore
  Scenario: delay-activation: activation waits for the secondary and the cycle passes
    When a soak of 1 cycle runs with
      | option           | value            |
      | --inject-failure | delay-activation |
      | --delay          | 1.0              |
    Then cycle 1 was injected with "delay-activation" at activation
    And cycle 1 passed with every phase in order, each timed
    And the activation of cycle 1 took at least 1.0 s
    And recovery of cycle 1 was verified: the secondary leads

  @trace.003.failure-injection.kill-observability-pod
  Scenario: kill-member: the leading primary is killed, the cluster fails over, recovery restarts it
    When a soak of 1 cycle runs with
      | option           | value       |
      | --inject-failure | kill-member |
    Then cycle 1 was injected with "kill-member" at activation
    And the activation of cycle 1 passed
    And cycle 1 failed in finalization with an error naming "every member to be healthy"
    And recovery of cycle 1 was verified: rolled back, the primary leads
    And every member runs and is healthy again

  @trace.003.failure-injection.random
  Scenario: random picks one offline fault per cycle from the seed
    When a soak of 3 cycles runs with
      | option           | value  |
      | --inject-failure | random |
      | --seed           | 11     |
    Then every cycle was injected with a fault the seed chose for it
    And recovery of every cycle was verified

  @trace.003.failure-injection.inject-at-phase
  Scenario Outline: --inject-at-phase <phase>: the fault hits that phase
    When a soak of 1 cycle runs with
      | option            | value        |
      | --inject-failure  | pause-member |
      | --inject-at-phase | <phase>      |
    Then cycle 1 was injected with "pause-member" at <phase>
    And cycle 1 failed in <phase>
    And recovery of cycle 1 was verified: rolled back, the primary leads

    Examples:
      | phase                        |
      | preflight                    |
      | primary_preparation          |
      | activation                   |
      | post_activation_verification |
      | finalization                 |

  @trace.003.failure-injection.inject-at-phase
  Scenario: Without --inject-at-phase the fault is injected at activation
    When the soak command line "--inject-failure kill-member" is read
    Then the run config is
      | field           | value       |
      | inject_failure  | kill-member |
      | inject_at_phase | activation  |

  @trace.003.resilience.rollback-validation
  Scenario: After a failed switchover, rollback completes and the data written before it is intact
    When a soak of 3 cycles runs with
      | option            | value        |
      | --inject-failure  | pause-member |
      | --inject-at-phase | finalization |
    Then every cycle failed in finalization and was rolled back: its primary leads again
    And the data of every cycle and the run's sentinel read back intact

  @needs.k8s @trace.003.failure-injection.pause-backup
  Scenario: pause-backup pauses the primary hub's BackupSchedule; recovery is verified
    When a hub soak of 1 cycle runs on the target's hubs with
      | option            | value               |
      | --inject-failure  | pause-backup        |
      | --inject-at-phase | primary_preparation |
    Then cycle 1 was injected with "pause-backup" at primary_preparation
    And recovery of cycle 1 was verified

  @needs.k8s @trace.003.failure-injection.delay-restore
  Scenario: delay-restore scales Velero down on the secondary hub; the restore finishes late
    When a hub soak of 1 cycle runs on the target's hubs with
      | option           | value         |
      | --inject-failure | delay-restore |
      | --delay          | 60            |
    Then cycle 1 was injected with "delay-restore" at activation
    And the activation of cycle 1 took at least 60 s
    And recovery of cycle 1 was verified

  @needs.k8s @trace.003.failure-injection.kill-observability-pod
  Scenario: kill-observability-pod deletes the observatorium-api pod; observability recovers
    When a hub soak of 1 cycle runs on the target's hubs with
      | option            | value                        |
      | --inject-failure  | kill-observability-pod       |
      | --inject-at-phase | post_activation_verification |
    Then cycle 1 was injected with "kill-observability-pod" at post_activation_verification
    And recovery of cycle 1 was verified

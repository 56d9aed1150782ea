@switchover @fixture.local-cluster
Feature: Switchover cycles
  Requirement 003: switchover cycles run repeatedly, each one timed phase by phase (preflight,
  primary preparation, activation, post-activation verification, finalization), swapping primary
  and secondary, with run and cycle ids, a manifest and per-cycle artifacts.
  Offline the switchover is real: a local 3-node etcd cluster (127.0.0.11-13) whose leadership
  moves from the primary member to the secondary with etcd's move-leader.

  Background:
    Given the local cluster is healthy

  @trace.003.cycles.single
  Scenario: One switchover cycle runs its five phases against the primary and the secondary
    When a soak of 1 cycle runs
    Then cycle 1 passed with every phase in order, each timed
    And the secondary of cycle 1 leads the cluster

  @trace.003.cycles.repeated
  Scenario: Switchover cycles run repeatedly without manual intervention
    When a soak of 5 cycles runs
    Then 5 cycles were recorded, all passed

  @trace.003.cycles.context-swapping
  Scenario: The secondary of one cycle is the primary of the next
    When a soak of 4 cycles runs
    Then each cycle's primary is the previous cycle's secondary

  @trace.003.cycles.fresh-state
  Scenario: Every cycle starts from a fresh state
    When a soak of 3 cycles runs
    Then every cycle's state holds only what that cycle learnt

  @trace.003.cycles.stop-on-failure
  Scenario: With --stop-on-failure the run stops after the first failed cycle; by default it keeps going
    When a soak of 3 cycles runs with
      | option            | value        |
      | --stop-on-failure | true         |
      | --inject-failure  | pause-member |
      | --inject-at-phase | preflight    |
    Then the run stopped after cycle 1 because of "--stop-on-failure: cycle 1 failed"
    When a soak of 3 cycles runs with
      | option            | value        |
      | --inject-failure  | pause-member |
      | --inject-at-phase | preflight    |
    Then 3 cycles were recorded, all failed

  @trace.003.cycles.success-rate
  Scenario: Twenty offline cycles succeed at least 95% of the time
    When a soak of 20 cycles runs
    Then at least 95% of the 20 cycles passed
    And the analyzer finds the run meets the 95% target

  @trace.003.run.config
  Scenario: A run is configured by a run config with the documented defaults
    When the soak command line "" is read
    Then the run config is
      | field            | value       |
      | cycles           | 5           |
      | cooldown_seconds | 30.0        |
      | method           | passive     |
      | old_hub_action   | secondary   |
      | dry_run          | False       |
      | stop_on_failure  | False       |
      | output_dir       | reports/soak |
      | primary_context  | None        |
      | secondary_context | None       |
    When the soak command line "--cycles 7 --cooldown 0 --primary-context n12 --secondary-context n13 --method full" is read
    Then the run config is
      | field             | value |
      | cycles            | 7     |
      | cooldown_seconds  | 0.0   |
      | primary_context   | n12   |
      | secondary_context | n13   |
      | method            | full  |

  @trace.003.run.contexts
  Scenario: The first primary and secondary are chosen on the command line
    When a soak of 2 cycles runs with
      | option              | value |
      | --primary-context   | n13   |
      | --secondary-context | n11   |
    Then the cycles ran
      | cycle | primary | secondary |
      | 1     | n13     | n11       |
      | 2     | n11     | n13       |

  @trace.003.run.cluster-access
  Scenario: Access to both members is validated before the first cycle
    When a soak of 1 cycle is started with
      | option              | value |
      | --primary-context   | n11   |
      | --secondary-context | n99   |
    Then it was refused before any cycle, naming "n99"

  @trace.003.run.ids
  Scenario: Every artifact carries the run id and the cycle id
    When a soak of 2 cycles runs
    Then every record carries the run id, and every record of a cycle its cycle id
    And every cycle's folder and log lines are named by its cycle id

  @trace.003.phases.preflight
  Scenario: Preflight refuses a cluster with a member down, and later phases do not run
    Given member n13 is stopped
    When a soak of 1 cycle runs with
      | option              | value |
      | --primary-context   | n11   |
      | --secondary-context | n12   |
    Then cycle 1 failed in preflight with an error naming "n13 (stopped)"
    And no phase after preflight ran in cycle 1

  @trace.003.phases.primary-prep
  Scenario: Primary preparation makes the primary lead and writes data the secondary has applied
    Given leadership was moved to n13
    When a soak of 1 cycle runs with
      | option              | value |
      | --primary-context   | n11   |
      | --secondary-context | n12   |
    Then cycle 1 passed with every phase in order, each timed
    And the log of cycle 1 says "primary preparation: n13 leads, not the primary n11"
    And the marker cycle 1 wrote through the primary reads back on the secondary

  @trace.003.phases.activation
  Scenario: Activation moves leadership from the primary to the secondary
    When a soak of 1 cycle runs
    Then the activation of cycle 1 passed and took the time of a leadership transfer
    And the log of cycle 1 says "activation: leadership moved"
    And the secondary of cycle 1 leads the cluster

  @trace.003.phases.post-activation
  Scenario: Post-activation verification proves the new leader and the data
    When a soak of 1 cycle runs
    Then post-activation verification of cycle 1 saw every member agree on the secondary and a write through it

  @trace.003.phases.finalization
  Scenario: Finalization swaps the roles once every member is healthy and the data intact
    When a soak of 2 cycles runs
    Then finalization of cycle 1 named cycle 1's secondary the next primary
    And the log of cycle 2 says "marker of cycle 1 intact"

  @trace.003.metrics.jsonl
  Scenario: Run, cycle and phase metrics are JSONL, one object per line
    When a soak of 2 cycles runs
    Then every line of metrics.jsonl is one JSON object with its record kind and the run id
    And metrics.jsonl holds run, phase, cycle and sample records

  @trace.003.metrics.statistics
  Scenario: Structured logs, metrics and statistics per run, per cycle and per phase
    When a soak of 3 cycles runs
    Then the run has its soak log, every cycle its log and metrics, every phase its record
    And the analysis of the run has P50, P90 and P95 of every phase

  @trace.003.artifacts.per-cycle
  Scenario: Every cycle emits its logs, metrics, state and environment snapshot
    When a soak of 2 cycles runs
    Then every cycle's folder holds log.txt, metrics.json, state.json and environment.json
    And every environment snapshot names the leader and every member

@drs @fixture.drs
Feature: Error handling and recovery
  Requirement 004.4: a failed DRS job's message is kept in the history, a failed wave skips the
  waves that depend on it, a timed-out execution fails with the reason, lost connectivity is
  retried with backoff before the engine gives up, and a cancelled execution stops as CANCELLED.
  Faults are injected into the DRS simulator (failed launches, dropped connections).

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R4.AC1
  Scenario: A failed DRS recovery job's error message is stored in the execution history
    Given the recovery plan "single_wave"
    And the next recovery of s-3afa164776f93ce4f fails with "Insufficient capacity for m5.xlarge in us-east-1a"
    When the plan is executed
    Then the execution ends FAILED
    And the history keeps the failure message DRS logged for s-3afa164776f93ce4f
    And the execution's error names wave 1 and that message

  @trace.004.R4.AC2
  Scenario: A failed wave marks the waves that depend on it SKIPPED
    Given the recovery plan "multi_wave_dependencies"
    And wave 3 sets
      | field     | value |
      | DependsOn | []    |
    And the next recovery of s-3d75cdc0d9a28a725 fails with "Snapshot conversion failed"
    When the plan is executed
    Then the execution ends FAILED
    And the waves ended
      | wave | status    | error                             |
      | 1    | FAILED    | s-3d75cdc0d9a28a725: DRS job      |
      | 2    | SKIPPED   | skipped: depends on failed wave 1 |
      | 3    | COMPLETED |                                   |
    And no DRS job includes a server of wave 2

  @trace.004.R4.AC3
  Scenario: An execution that times out is marked FAILED with the timeout as its reason
    Given the recovery plan "multi_wave_dependencies"
    And the simulated DRS launches each server in 120 to 360 seconds
    And the plan sets
      | field                   | value |
      | ExecutionTimeoutSeconds | 600   |
    When the plan is executed
    Then the execution ends FAILED with the error "execution timed out after 600 s"
    And it ended after exactly 600 seconds on the clock
    And the wave running at the deadline failed with that reason, and the waves after it were skipped

  @trace.004.R4.AC4
  Scenario: Lost connectivity to DRS is retried with exponential backoff before failing
    Given the recovery plan "single_wave"
    And the network to DRS drops the next 4 calls
    When the plan is executed
    Then the execution ends FAILED
    And DRS saw 4 attempts of DescribeSourceServers, every one of them dropped
    And the engine spaced its DescribeSourceServers attempts with exponential backoff on the clock
      | retry | waited at most seconds |
      | 1     | 0.05                   |
      | 2     | 0.1                    |
      | 3     | 0.2                    |
    And every server of wave 1 failed with an error containing "failed after 4 attempts: ConnectionClosedError"

  @trace.004.R4.AC5
  Scenario: A cancelled execution stops gracefully and is marked CANCELLED
    Given the recovery plan "multi_wave_dependencies"
    When the plan is started
    And the user cancels the execution 45 seconds after it started
    And the execution runs to its end
    Then the execution ends CANCELLED with the error "cancelled by user"
    And the waves ended
      | wave | status    |
      | 1    | CANCELLED |
      | 2    | CANCELLED |
      | 3    | CANCELLED |
    And DRS received exactly 1 StartRecovery call
    And cancelling the execution again is refused, since it has ended

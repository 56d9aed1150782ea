@drs @fixture.drs
Feature: Health check validation
  Requirement 004.3: after a recovery job completes the engine asks EC2 whether each recovered
  instance is running, polls a pending one every 30 seconds for up to 5 minutes, fails it after
  that, and skips all of it when a wave disables health checks. The recovered instances are real
  moto EC2 instances launched by the DRS simulator; the engine's EC2 calls are recorded.

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R3.AC1
  Scenario: A completed recovery job is followed by DescribeInstanceStatus for its instances
    Given the recovery plan "single_wave"
    When the plan is executed
    Then the engine asked EC2 DescribeInstanceStatus about exactly the recovery instances of wave 1
    And it first asked only after DRS had completed the job of wave 1

  @trace.004.R3.AC2
  Scenario: A running instance marks its server as successfully recovered
    Given the recovery plan "single_wave"
    When the plan is executed
    Then EC2 reports every recovery instance of wave 1 as running
    And the history marks every server of wave 1 COMPLETED, health check PASSED, instance running

  @trace.004.R3.AC3
  Scenario: A pending instance is polled every 30 seconds while it stays pending
    Given the recovery plan "single_wave"
    And the recovery instance of s-3d75cdc0d9a28a725 stays pending until 120 seconds into its health check
    When the plan is executed
    Then the execution ends COMPLETED
    And the health check asked EC2 about s-3d75cdc0d9a28a725 5 times, 30 seconds apart
    And s-3d75cdc0d9a28a725 passed its health check 120 seconds after the check began

  @trace.004.R3.AC4
  Scenario: An instance not running within 5 minutes marks the recovery FAILED
    Given the recovery plan "multi_wave_dependencies"
    And the recovery instance of s-3d75cdc0d9a28a725 stays pending
    When the plan is executed
    Then the health check asked EC2 about s-3d75cdc0d9a28a725 11 times, 30 seconds apart
    And s-3d75cdc0d9a28a725 failed because its instance was not running after 300 s (last state: pending)
    And EC2 still reports that instance as pending
    And the execution ends FAILED
    And the waves ended
      | wave | status  |
      | 1    | FAILED  |
      | 2    | SKIPPED |
      | 3    | SKIPPED |

  @trace.004.R3.AC5
  Scenario: With health checks disabled, a wave skips validation and proceeds at once
    Given the recovery plan "multi_wave_dependencies"
    And wave 1 sets
      | field               | value |
      | HealthCheck.Enabled | false |
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine never asked EC2 about the recovery instances of wave 1
    And the history marks every server of wave 1 COMPLETED with health check SKIPPED
    And wave 1 ended at the very poll that saw its DRS job complete
    And the history marks every server of wave 2 COMPLETED, health check PASSED, instance running

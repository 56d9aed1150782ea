@drs @fixture.drs
Feature: Wave orchestration
  Requirement 004.1: waves run in order, a wave waits for the waves it depends on, pauses for
  its WaitTimeSeconds, and launches its servers together (PARALLEL) or one at a time in
  ExecutionOrder (SEQUENTIAL). The engine runs against the DRS simulator; both share one virtual
  clock, so a recovery of many minutes runs in milliseconds through the engine's real code.
  Times are read back from the execution history in DynamoDB and from DRS's own job records.

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R1.AC1
  Scenario: Three sequential waves execute in order
    Given the recovery plan "multi_wave_dependencies"
    When the plan is executed
    Then the execution ends COMPLETED
    And the waves started in this order, each after the previous one had ended
      | wave | name        |
      | 1    | Database    |
      | 2    | Application |
      | 3    | Web         |
    And DRS created one recovery job per wave, in the same order

  @trace.004.R1.AC2
  Scenario: Wave 2 waits for Wave 1, on which it depends, to complete
    Given the recovery plan "multi_wave_dependencies"
    When the plan is executed
    Then wave 2 started only after every server of wave 1 had passed its health check
    And DRS created the job of wave 2 only after the job of wave 1 had completed

  @trace.004.R1.AC3
  Scenario: WaitTimeSeconds pauses before the next wave starts
    Given the recovery plan "multi_wave_dependencies"
    And wave 1 sets
      | field           | value |
      | WaitTimeSeconds | 600   |
    When the plan is executed
    Then each next wave started after the pause its previous wave asks for
      | after wave | pause in seconds |
      | 1          | 600              |
      | 2          | 30               |
    And DRS received no StartRecovery call during a pause

  @trace.004.R1.AC4
  Scenario: A PARALLEL wave launches all its servers simultaneously
    Given the recovery plan "parallel"
    When the plan is executed
    Then the execution ends COMPLETED
    And DRS received exactly 1 StartRecovery call
    And that call asked for all 6 servers of wave 1, and DRS ran them in one job
    And every server of wave 1 started at the same moment

  @trace.004.R1.AC5
  Scenario: A SEQUENTIAL wave launches servers one at a time in ExecutionOrder
    Given the recovery plan "sequential"
    And the servers of wave 1 have these execution orders
      | server              | ExecutionOrder |
      | s-feca26f0b9d59ac6c | 2              |
      | s-711785f31c0ba0949 | 1              |
    When the plan is executed
    Then the execution ends COMPLETED
    And DRS received exactly 2 StartRecovery calls
    And the servers of wave 1 were launched one at a time, each after the one before had recovered
      | server              |
      | s-711785f31c0ba0949 |
      | s-feca26f0b9d59ac6c |

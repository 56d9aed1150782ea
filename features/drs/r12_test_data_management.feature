@drs @fixture.drs
Feature: Test data management
  Requirement 004.12: the test data (fixtures/drs) has three protection groups of two servers,
  plans of every wave shape, plans with each kind of error, matches the DynamoDB schema's
  PascalCase names, and is cleaned up automatically: every scenario's clean-up terminates its
  recovery instances, deletes its history records and drops its table.

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R12.AC1
  Scenario: Test data has 3 protection groups (Database, Application, Web) of 2 servers each
    When the protection groups of the test data are read
    Then they are
      | ProtectionGroupId | Name        | SourceServerIds                          |
      | pg-database       | Database    | s-3d75cdc0d9a28a725, s-3afa164776f93ce4f |
      | pg-application    | Application | s-feca26f0b9d59ac6c, s-711785f31c0ba0949 |
      | pg-web            | Web         | s-0b9d9f06cc8cf4476, s-02d0871fdc0ab474b |
    And DRS replicates each of their servers in CONTINUOUS state, tagged with its group's Name

  @trace.004.R12.AC2
  Scenario: Test plans cover single wave, multi-wave with dependencies, parallel and sequential
    When the engine validates each of these recovery plans
      | plan                    | shape                                |
      | single_wave             | a single wave                        |
      | multi_wave_dependencies | several waves with dependencies      |
      | parallel                | a PARALLEL wave of 6 servers         |
      | sequential              | a SEQUENTIAL wave                    |
    Then each plan is valid and has its shape
    And a scenario of this suite executes each of them and checks how the execution ended

  @trace.004.R12.AC3
  Scenario: Invalid test plans are refused before any AWS call, with clear messages
    When each of these recovery plans is started
      | plan                     | refused because                                                         |
      | invalid_server_ids       | Waves[0].Servers[0].SourceServerId: 's-123' is not a source server id   |
      | missing_protection_group | Waves[1].ProtectionGroupId: protection group 'pg-cache' does not exist  |
      | circular_dependencies    | circular dependency 1 -> 3 -> 1                                         |
    Then each was refused with a PlanValidationError giving that reason
    And the engine made no AWS call while starting them, and DRS received none
    And no execution record was written

  @trace.004.R12.AC4
  Scenario: Test data matches the DynamoDB schema's PascalCase field names
    Given the recovery plan "single_wave"
    When the plan is executed
    Then every field name in the test plans and protection groups is PascalCase
    And every attribute name of the execution's record in DynamoDB is PascalCase, nested ones too
    And the history table is keyed by ExecutionId, with its index on PlanId and StartTime

  @trace.004.R12.AC5
  Scenario: Test data is cleaned up automatically, leaving no orphaned records
    Given the recovery plan "single_wave"
    When the plan is executed
    Then DynamoDB holds 1 execution record for plan "plan-single-wave"
    When the scenario's test data is cleaned up
    Then a scan found no record left before the history table was dropped
    And the history table no longer exists
    And every recovery instance of the drill is terminated in EC2

@drs @fixture.drs
Feature: Execution history persistence
  Requirement 004.5: the execution record in DynamoDB is created at start, updated per wave and
  at the end, records failed servers with their error and DRS job, and every queried record has
  all its fields, formatted, none null. Records are read back with a plain DynamoDB client.

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R5.AC1
  Scenario: Starting an execution creates its RUNNING record
    Given the recovery plan "single_wave"
    When the plan is started
    Then DynamoDB holds the execution's record with
      | attribute   | DynamoDB type | value                              |
      | ExecutionId | S             | the id the start returned          |
      | PlanId      | S             | plan-single-wave                   |
      | Status      | S             | RUNNING                            |
      | StartTime   | S             | the clock's time, as ISO 8601 UTC  |
      | EndTime     | S             | empty                              |

  @trace.004.R5.AC2
  Scenario: A completed wave updates the record with its status, server results and timing
    Given the recovery plan "multi_wave_dependencies"
    When the plan is started
    And the execution is driven until wave 1 has completed
    Then the record in DynamoDB shows wave 1 COMPLETED with its start and end times, and wave 2 not finished
    And every server of wave 1 is recorded COMPLETED with
      | field              | matching                                  |
      | JobId              | the DRS job that recovered the server     |
      | RecoveryInstanceId | the server's recovery instance in DRS     |
      | InstanceState      | the instance's state in EC2               |
      | HealthCheck        | PASSED                                    |
      | StartTime          | a time within the wave                    |
      | EndTime            | a time within the wave                    |

  @trace.004.R5.AC3
  Scenario: The end of an execution sets EndTime and the final Status
    Given the recovery plan "single_wave"
    When the plan is executed
    Then the record in DynamoDB ends COMPLETED, with the EndTime and Duration the clock gives
    When the next recovery of s-3afa164776f93ce4f fails with "Disk conversion failed"
    And the plan is executed
    Then the record in DynamoDB ends FAILED, with the EndTime and Duration the clock gives

  @trace.004.R5.AC4
  Scenario: A failed server is recorded with its id, the error and its DRS job id
    Given the recovery plan "sequential"
    And the next recovery of s-711785f31c0ba0949 fails with "Launch template subnet does not exist"
    When the plan is executed
    Then the record in DynamoDB lists s-711785f31c0ba0949 as FAILED, with the DRS job that failed it and DRS's message
    And it lists s-feca26f0b9d59ac6c as COMPLETED, with the DRS job that recovered it

  @trace.004.R5.AC5
  Scenario: Queried history has every required field, correctly formatted, none null
    Given the recovery plan "single_wave"
    When the plan is executed
    And the next recovery of s-3afa164776f93ce4f fails with "Disk conversion failed"
    And the plan is executed
    And the history of plan "plan-single-wave" is queried
    Then the query returns 2 records, newest first
    And every record has these fields, none null
      | field                   | format               |
      | ExecutionId             | UUID                 |
      | PlanId                  | text                 |
      | PlanName                | text                 |
      | Status                  | final status         |
      | StartTime               | ISO 8601 UTC         |
      | EndTime                 | ISO 8601 UTC         |
      | UpdatedAt               | ISO 8601 UTC         |
      | Duration                | seconds              |
      | IsDrill                 | boolean              |
      | SourceAccountId         | account id           |
      | TargetAccountId         | account id           |
      | Region                  | region               |
      | ServerCount             | count                |
      | ExecutionTimeoutSeconds | count                |
      | Error                   | text, empty if none  |
      | Notification            | notification         |
      | Waves                   | list                 |
    And every wave in them has these fields, none null
      | field       | format               |
      | WaveNumber  | whole number         |
      | WaveName    | text                 |
      | Status      | wave status          |
      | DependsOn   | list of wave numbers |
      | StartTime   | ISO 8601 UTC         |
      | EndTime     | ISO 8601 UTC         |
      | Servers     | list                 |
    And every server in them has these fields, none null
      | field              | format                                  |
      | SourceServerId     | source server id                        |
      | Status             | server status                           |
      | JobId              | DRS job id                              |
      | RecoveryInstanceId | EC2 instance id, empty if none launched |
      | HealthCheck        | health check                            |
      | StartTime          | ISO 8601 UTC                            |
      | EndTime            | ISO 8601 UTC                            |
      | Error              | text, empty if none                     |
    And DynamoDB stores no NULL attribute in any of them

@drs @fixture.drs
Feature: Mocking and test infrastructure
  Requirement 004.11: the DRS simulator answers with realistic responses, moves jobs through
  PENDING, IN_PROGRESS and COMPLETED on realistic timing, simulates throttling, timeouts and API
  errors, supports success and failure for every DRS operation the engine uses, and no real AWS
  call is made: the network guard of the offline target proves it.

  Background:
    Given the DRS simulator and the engine share one virtual clock

  @trace.004.R11.AC1
  Scenario: DRS calls of the engine get realistic responses
    Given the recovery plan "parallel"
    And the simulated DRS launches each server in 45 to 90 seconds
    When the plan is executed
    Then every DRS response the engine received matches botocore's output shape for its operation
    And every recovery instance DRS reported is an EC2 instance in moto, tagged as managed by DRS
    And every DRS job id and ARN has the format DRS gives them

  @trace.004.R11.AC2
  Scenario: Job status transitions follow realistic timing
    When a recovery of s-3d75cdc0d9a28a725 is started in the simulated DRS and watched every 5 seconds
    Then the job went through these states, each entered within the simulator's timing
      | DRS job status | launchStatus | the engine reads it as | entered after seconds |
      | PENDING        | PENDING      | PENDING                | 0                     |
      | STARTED        | IN_PROGRESS  | IN_PROGRESS            | 20 to 40              |
      | COMPLETED      | LAUNCHED     | COMPLETED              | 141 to 401            |

  @trace.004.R11.AC3
  Scenario: The simulator simulates throttling, timeouts and API errors
    When a DRS client that does not retry calls DescribeJobs once per fault injected
      | fault    | code                  | status |
      | throttle |                       |        |
      | timeout  |                       |        |
      | error    |                       |        |
      | error    | AccessDeniedException | 403    |
    Then the client saw, in turn
      | error                   | HTTP status |
      | ThrottlingException     | 429         |
      | ConnectionClosedError   | none        |
      | InternalServerException | 500         |
      | AccessDeniedException   | 403         |
    And the simulator counted 4 faulted DescribeJobs calls

  @trace.004.R11.AC4
  Scenario: No real AWS API calls are made, as the network guard verifies
    Given the recovery plan "single_wave"
    And the simulated DRS launches each server in 45 to 90 seconds
    And the network guard of the offline target is installed in this process
    When the plan is executed
    Then the execution ends COMPLETED
    And the network guard blocked no connection while the engine ran
    And AWS_ENDPOINT_URL and every AWS client of the engine point at 127.0.0.1
    And a connection to the real DRS endpoint is refused by the guard before anything leaves the machine

  @trace.004.R11.AC5
  Scenario: Every DRS operation the engine uses supports success and failure
    When each DRS operation is called once to succeed and once to fail
      | operation                  | to fail                              |
      | StartRecovery              | a server already in an active job    |
      | DescribeJobs               | an injected InternalServerException  |
      | DescribeJobLogItems        | an unknown job id                    |
      | DescribeSourceServers      | an injected AccessDeniedException    |
      | DescribeRecoveryInstances  | an injected ThrottlingException      |
      | DescribeRecoverySnapshots  | an unknown source server             |
      | TerminateRecoveryInstances | an unknown recovery instance         |
    Then every success matched botocore's output shape for its operation
    And every failure came back as the DRS error
      | operation                  | error code              | HTTP status |
      | StartRecovery              | ConflictException       | 409         |
      | DescribeJobs               | InternalServerException | 500         |
      | DescribeJobLogItems        | ValidationException     | 400         |
      | DescribeSourceServers      | AccessDeniedException   | 403         |
      | DescribeRecoveryInstances  | ThrottlingException     | 429         |
      | DescribeRecoverySnapshots  | ValidationException     | 400         |
      | TerminateRecoveryInstances | ValidationException     | 400         |
    When the next recovery of s-3afa164776f93ce4f fails with "Failed to launch recovery instance"
    And a recovery of s-3d75cdc0d9a28a725 and s-3afa164776f93ce4f runs to its end in the simulated DRS
    Then the engine's DRS layer reads s-3d75cdc0d9a28a725 as COMPLETED, and s-3afa164776f93ce4f as FAILED with "LAUNCH_FAILED: Failed to launch recovery instance"

@drs @fixture.drs @needs.real-drs
Feature: Integration with a real DRS environment
  Requirement 004.10: against a real AWS account (a target with the real-drs capability and its
  [drs] source_servers), six Windows servers replicate continuously in us-east-1, a drill launches
  real EC2 instances that are validated and then terminated through DRS, and real responses match
  the API schema in reasonable time. Offline these scenarios are skipped, with the reason.

  Background:
    Given the real DRS account of the target

  @trace.004.R10.AC1
  Scenario: The test environment has 6 Windows servers in CONTINUOUS replication
    When the test source servers are described in DRS
    Then there are 6 of them, each a Windows server in CONTINUOUS replication

  @trace.004.R10.AC2
  Scenario: A drill recovery launches real EC2 instances that are validated
    Given the recovery plan "parallel"
    When the plan is executed as a drill
    Then the execution ends COMPLETED
    And every recovered server has a running EC2 instance, managed by DRS and marked as a drill

  @trace.004.R10.AC3
  Scenario: Test instances are terminated automatically when the drill completes
    Given the recovery plan "single_wave"
    When the plan is executed as a drill
    And the scenario's test data is cleaned up
    Then every recovery instance of the drill is terminated in EC2
    And DRS no longer lists any of them as a recovery instance

  @trace.004.R10.AC4
  Scenario: All 6 test servers are available in us-east-1
    When the test source servers are described in DRS
    Then the target's region is us-east-1
    And DRS there has every one of these servers, replicating
      | server              |
      | s-3d75cdc0d9a28a725 |
      | s-3afa164776f93ce4f |
      | s-feca26f0b9d59ac6c |
      | s-711785f31c0ba0949 |
      | s-0b9d9f06cc8cf4476 |
      | s-02d0871fdc0ab474b |

  @trace.004.R10.AC5
  Scenario: Real DRS API responses match the expected schema and timing
    When each read operation the engine uses is called on DRS and timed
    Then every response matches botocore's output shape for its operation
    And every call answered within 5 seconds

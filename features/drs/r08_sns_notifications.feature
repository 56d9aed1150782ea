@drs @fixture.drs
Feature: SNS notifications
  Requirement 004.8: the engine publishes an execution summary to SNS on success and on failure,
  skips it without a topic, survives a failing publish, and includes ExecutionId, PlanId, Status,
  Duration and ServerCount. Messages are read from an SQS queue subscribed to the topic in moto.

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R8.AC1
  Scenario: A successful execution publishes an SNS message with the execution summary
    Given the recovery plan "single_wave"
    And the plan notifies an SNS topic with an SQS queue subscribed
    When the plan is executed
    Then the queue received exactly 1 notification
    And it summarises the execution as the history records it: Status COMPLETED, its times and every wave's status
    And the record's Notification is SENT

  @trace.004.R8.AC2
  Scenario: A failed execution publishes an SNS message with the error and the affected servers
    Given the recovery plan "multi_wave_dependencies"
    And the plan notifies an SNS topic with an SQS queue subscribed
    And the next recovery of s-3afa164776f93ce4f fails with "Insufficient capacity for m5.xlarge"
    When the plan is executed
    Then the queue received exactly 1 notification
    And it reports Status FAILED with the execution's error
    And it lists the affected servers with their wave, status, DRS job and error, as the history has them
      | server              | wave | status  |
      | s-3afa164776f93ce4f | 1    | FAILED  |
      | s-feca26f0b9d59ac6c | 2    | SKIPPED |
      | s-711785f31c0ba0949 | 2    | SKIPPED |
      | s-0b9d9f06cc8cf4476 | 3    | SKIPPED |
      | s-02d0871fdc0ab474b | 3    | SKIPPED |

  @trace.004.R8.AC3
  Scenario: Without a topic ARN the notification is skipped and the execution does not fail
    Given the recovery plan "single_wave"
    And the plan has no SnsTopicArn
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine made no SNS call
    And the record's Notification is SKIPPED

  @trace.004.R8.AC4
  Scenario: A failing SNS publish is logged and the execution still completes
    Given the recovery plan "single_wave"
    And the plan notifies an SNS topic that has since been deleted
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine logged an error naming the topic and SNS's reason
    And the record's Notification is FAILED

  @trace.004.R8.AC5
  Scenario: The notification includes ExecutionId, PlanId, Status, Duration and ServerCount
    Given the recovery plan "parallel"
    And the plan notifies an SNS topic with an SQS queue subscribed
    When the plan is executed
    Then the queue received exactly 1 notification
    And it carries these fields with the values of the history record
      | field       |
      | ExecutionId |
      | PlanId      |
      | Status      |
      | Duration    |
      | ServerCount |
    And its ServerCount is the 6 servers of the plan and its Duration the time the execution took on the clock

@drs @fixture.drs
Feature: Cross-account recovery
  Requirement 004.6: a plan with a target account makes the engine assume the cross-account role
  with STS and use its temporary credentials for DRS, report a role it cannot assume, refresh
  credentials that expire mid-execution, and record both accounts. moto maps the assumed
  credentials to account 222222222222, and the DRS simulator keeps that account's state apart.

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R6.AC1
  Scenario: A plan with a target account makes the engine assume the cross-account role
    Given the recovery plan "cross_account"
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine called STS AssumeRole once, for the plan's CrossAccountRoleArn
    And the DRS recovery job ran in the plan's target account, and none in the engine's own account

  @trace.004.R6.AC2
  Scenario: Every DRS call uses the temporary credentials of the assumed role
    Given the recovery plan "cross_account"
    When the plan is executed
    Then every DRS request of the engine was signed with the access key AssumeRole returned, and its session token
    And so was every EC2 health check request

  @trace.004.R6.AC3
  Scenario: A role that cannot be assumed gives an error naming the role ARN and the reason
    Given the recovery plan "cross_account"
    And STS refuses the engine's AssumeRole with AccessDenied "User is not authorized to perform: sts:AssumeRole"
    When the plan is started, expecting an error
    Then the error is a CrossAccountError naming the plan's role ARN and "AccessDenied: User is not authorized to perform: sts:AssumeRole"
    And no execution record was written
    And DRS received no call at all

  @trace.004.R6.AC4
  Scenario: Temporary credentials that expire during the execution are refreshed automatically
    Given the recovery plan "cross_account"
    And the plan sets
      | field                   | value |
      | ExecutionTimeoutSeconds | 7200  |
    And wave 1 sets
      | field           | value |
      | WaitTimeSeconds | 3000  |
    And the plan gains a wave 2 recovering "pg-application" after wave 1
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine assumed the role twice, the second time before the first credentials expired
    And the DRS requests of wave 2 were signed with the refreshed credentials

  @trace.004.R6.AC5
  Scenario: The history of a cross-account recovery records the source and target account ids
    Given the recovery plan "cross_account"
    When the plan is executed
    Then the record in DynamoDB has SourceAccountId set to the engine's own account, as STS reports it
    And its TargetAccountId is the plan's target account, where DRS ran the recovery job

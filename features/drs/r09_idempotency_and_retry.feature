@drs @fixture.drs
Feature: Idempotency and retry
  Requirement 004.9: the state machine retries failed Lambda invocations with exponential
  backoff, a duplicate start returns the existing execution, a retried StartRecovery creates no
  second job, a failed history write is retried, and exhausted retries end with a clear message.
  The state machine definition is interpreted on the shared clock, invoking the engine's
  lambda_handler (Lambda tasks would need Docker under moto).

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R9.AC1
  Scenario: Failed Lambda invocations are retried up to 3 times with exponential backoff
    Given the recovery plan "single_wave"
    Then every Task state of the state machine retries Lambda errors 3 times, 2 seconds apart at first, with backoff rate 2
    Given the engine's Lambda fails its next 2 "step" invocations with Lambda.ServiceException
    When the plan runs under the state machine definition to its end
    Then the state machine ended in ExecutionCompleted
    And the failed invocations were retried after 2 and then 4 seconds on the clock
    Given the engine's Lambda fails its next 4 "step" invocations with Lambda.ServiceException
    When the plan runs under the state machine definition to its end
    Then the state machine ended in ExecutionFailed after 3 retries of the same state
    And the history records that execution FAILED with the error "state machine error: Lambda.ServiceException: simulated Lambda service failure"

  @trace.004.R9.AC2
  Scenario: Starting the same execution twice returns the existing ExecutionId
    Given the recovery plan "single_wave"
    When the plan is started
    And the plan is started again
    Then both starts returned the same ExecutionId
    And DynamoDB holds 1 execution record for plan "plan-single-wave"
    When the execution runs to its end
    Then DRS received exactly 1 StartRecovery call

  @trace.004.R9.AC3
  Scenario: A retried StartRecovery does not create a duplicate recovery job
    Given the recovery plan "single_wave"
    And the reply to the engine's next StartRecovery is lost after DRS has acted on it
    When the plan is executed
    Then the execution ends COMPLETED
    And DRS received 2 StartRecovery calls, the retry refused with ConflictException
    And DRS holds exactly 1 recovery job for the servers of wave 1, the one the history names

  @trace.004.R9.AC4
  Scenario: A failed execution history write is retried
    Given the recovery plan "single_wave"
    And DynamoDB rejects the engine's next 5 UpdateItem requests with ProvisionedThroughputExceededException
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine sent at least 6 UpdateItem requests: botocore's 4 attempts, then its own retry
    And the engine made the same UpdateItem write twice in a row
    And the record in DynamoDB holds the final state of every wave

  @trace.004.R9.AC5
  Scenario: Exhausted retries end with a clear error message
    Given the recovery plan "single_wave"
    And DRS throttles the next 4 StartRecovery calls
    When the plan is executed
    Then the execution ends FAILED
    And every server of wave 1 failed with the error "drs StartRecovery for s-3d75cdc0d9a28a725, s-3afa164776f93ce4f failed after 4 attempts: ThrottlingException: Rate exceeded"
    Given DynamoDB rejects the engine's next 30 UpdateItem requests with ProvisionedThroughputExceededException
    When the plan is executed, expecting an error
    Then the error is RetriesExhausted naming the history write of the RUNNING execution, 3 attempts and ProvisionedThroughputExceededException

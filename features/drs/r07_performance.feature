@drs @fixture.drs
Feature: Performance and scalability
  Requirement 004.7: six servers within the 15-minute RTO, twenty servers over five waves without
  throttling errors, ten concurrent jobs polled efficiently inside the Lambda timeout, a hundred
  state transitions within the Step Functions limits, and history queries under 200 ms among a
  thousand records. DRS time is virtual (the simulator's realistic timing on the shared clock);
  wall times are measured and written to the run's journal.

  Background:
    Given the DRS simulator and the engine share one virtual clock

  @trace.004.R7.AC1
  Scenario: Six servers recovered in parallel within the 15-minute RTO
    Given the recovery plan "parallel"
    When the plan is executed
    Then the execution ends COMPLETED
    And all 6 servers recovered within 15 minutes on the clock, in under 5 seconds of wall time

  @trace.004.R7.AC2
  Scenario: Twenty servers across five waves without throttling errors
    Given DRS replicates 14 more source servers, 20 in all
    And the simulated DRS launches each server in 45 to 90 seconds
    And a plan recovering those 20 servers in 5 PARALLEL waves of 4
    And DRS throttles the next 2 DescribeJobs calls
    And DRS throttles the next StartRecovery call
    When the plan is executed
    Then the execution ends COMPLETED
    And all 20 servers recovered
    And DRS throttled 3 calls, yet no server or wave recorded a throttling error
    And DRS received exactly 5 StartRecovery calls that succeeded

  @trace.004.R7.AC3
  Scenario: Ten concurrent recovery jobs are polled efficiently within the Lambda timeout
    Given DRS replicates 4 more source servers, 10 in all
    And the simulated DRS launches each server in 45 to 90 seconds
    And 10 plans, each recovering one of those servers
    When the 10 plans run concurrently under the state machine, each tick one Lambda invocation
    Then all 10 executions end COMPLETED
    And the 10 DRS jobs were all in progress at the same time
    And every Lambda tick that monitored a job made exactly 1 DescribeJobs call
    And every Lambda tick finished within a tenth of the state machine's task timeout

  @trace.004.R7.AC4
  Scenario: 100 state transitions complete without hitting Step Functions limits
    Given the recovery plan "multi_wave_dependencies"
    When the plan runs under the state machine definition to its end
    Then the state machine ended in ExecutionCompleted after at least 100 state transitions
    And the run stayed within the Step Functions limits
      | limit                                   | at most                             |
      | history events of the execution         | 25000                               |
      | payload of any state, in bytes          | 262144                              |
      | execution time on the clock, in seconds | the definition's TimeoutSeconds     |
      | each Lambda task, in seconds            | the task state's TimeoutSeconds     |

  @trace.004.R7.AC5
  Scenario: The history of a plan is queried within 200 ms among 1000 records
    Given the recovery plan "single_wave"
    And the plan has been executed
    And the history table holds 1000 execution records of 100 plans, copied from that execution
    When the history of plan "plan-load-007" is queried through the PlanId index
    Then the query returns 10 records, newest first, all of plan "plan-load-007"
    And the query took less than 200 ms of wall time

@drs @fixture.drs
Feature: DRS API integration
  Requirement 004.2: the engine calls StartRecovery with the right servers, snapshots and drill
  flag, reads job status from DescribeJobs, retries throttling with exponential backoff, and
  names a source server DRS does not know. What the engine sent is recorded from its own boto3
  clients; what DRS did is read back from the simulator (jobs, job logs, call counts).

  Background:
    Given the DRS simulator and the engine share one virtual clock
    And the simulated DRS launches each server in 45 to 90 seconds

  @trace.004.R2.AC1
  Scenario: StartRecovery gets the right sourceServerID and recoverySnapshotID
    Given the recovery plan "single_wave"
    And s-3d75cdc0d9a28a725 is to be recovered from its recovery snapshot taken 60 minutes ago
    When the plan is executed
    Then the execution ends COMPLETED
    And the engine called StartRecovery once, with
      | sourceServerID      | recoverySnapshotID                |
      | s-3d75cdc0d9a28a725 | the snapshot taken 60 minutes ago |
      | s-3afa164776f93ce4f | none                              |
    And DRS recovered s-3d75cdc0d9a28a725 from that snapshot and took a new one for s-3afa164776f93ce4f

  @trace.004.R2.AC2
  Scenario: A drill passes isDrill=True to DRS
    Given the recovery plan "single_wave"
    And the plan sets
      | field   | value |
      | IsDrill | true  |
    When the plan is executed
    Then every StartRecovery call of the engine had isDrill set to true
    And DRS ran the job as a drill and marked its recovery instances as drill instances
    And the history record says IsDrill is true

  @trace.004.R2.AC3
  Scenario: DescribeJobs is polled and each job status is parsed correctly
    JobStatus is the whole job's: a job that ends with a failed server is FAILED, whatever the others did.

    Given the recovery plan "single_wave"
    And the simulated DRS keeps a job 45 seconds pending and takes 120 seconds to launch a server
    And the next recovery of s-3afa164776f93ce4f fails with "Insufficient capacity for m5.xlarge"
    When the execution is driven tick by tick, reading DRS after each tick
    Then every DescribeJobs call of the engine asked for the job of the wave only
    And after each poll the history showed the status DescribeJobs reported, translated as
      | DRS job status | DRS launchStatus | history JobStatus | history server Status |
      | PENDING        | PENDING          | PENDING           | IN_PROGRESS           |
      | STARTED        | IN_PROGRESS      | IN_PROGRESS       | IN_PROGRESS           |
      | COMPLETED      | LAUNCHED         | FAILED            | COMPLETED             |
      | COMPLETED      | FAILED           | FAILED            | FAILED                |

  @trace.004.R2.AC4
  Scenario: Throttled DRS calls are retried with exponential backoff, up to 3 times
    Given the recovery plan "single_wave"
    And DRS throttles the next 3 StartRecovery calls
    When the plan is executed
    Then the execution ends COMPLETED
    And DRS answered 4 StartRecovery calls, 3 of them with ThrottlingException
    And the engine spaced its StartRecovery attempts with exponential backoff on the clock
      | retry | waited at most seconds |
      | 1     | 1                      |
      | 2     | 2                      |
      | 3     | 4                      |

  @trace.004.R2.AC5
  Scenario: A source server DRS does not know fails with a message naming it
    Given the recovery plan "single_wave"
    And wave 1 also recovers s-00000000000dead01, which its protection group lists but DRS does not know
    When the plan is executed
    Then the execution ends FAILED
    And s-00000000000dead01 failed with an error naming it, the account and the region
    And no DRS job includes s-00000000000dead01
    And the other servers of wave 1 recovered

@lab @runner
Feature: The end-to-end test runner
  The runner's own behaviour, proven on a small fixture plan (tests/fixtures/plans/basic: six
  steps; step 2 runs a command that exits 3; step 4 is @spark; step 5 needs k8s), each run with
  its own offline endpoint and reports folder, with and without a terminal.

  @trace.000.end-to-end-test-runner.resilient-step-execution
  Scenario: Resilient step execution
    When the runner runs the fixture plan without a terminal
    Then step 2 failed and steps 1, 3 and 6 passed
    And the diagnostics of step 2 have its exit code 3 and its output
    And the diagnostics of step 2 have the disk usage and the aws commands to re-run

  @trace.000.end-to-end-test-runner.teardown-behavior-on-failure
  Scenario: Teardown behavior on failure
    When the runner runs the fixture plan on a terminal
    Then the full failure log is printed at the end
    And it asks before tearing down, with the environment still up
    When I answer "t"
    Then the runner exits 1 and nothing of the run is left

  @trace.000.end-to-end-test-runner.clean-exit-on-success
  Scenario: Clean exit on success
    When the runner runs the fixture plan without a terminal with "--end-step 1"
    Then the runner exits 0 and nothing of the run is left

  @trace.000.feature-flags-for-optional-services.spark-steps-skipped-when-flag-not-set
  Scenario: Spark steps skipped when flag not set
    When the runner runs the fixture plan without a terminal
    Then step 4 was skipped with a reason naming "--spark"

  @trace.000.feature-flags-for-optional-services.all-features-enabled
  Scenario: All features enabled
    When the runner lists the fixture plan's steps with "--all"
    Then step 4 "Spark is optional" would run

  @trace.000.breakpoint-and-resume-support.breakpoint-pauses-execution
  Scenario: Breakpoint pauses execution
    When the runner runs the fixture plan on a terminal with "--break 3"
    Then it pauses before step 3 with only steps 1 and 2 started
    When I press Enter
    Then step 3 runs
    And it asks before tearing down, with the environment still up
    When I answer "t"
    Then the runner exits 1 and nothing of the run is left

  @trace.000.breakpoint-and-resume-support.resume-from-step
  Scenario: Resume from step
    Given the runner ran the fixture plan without a terminal with "--on-failure keep --end-step 2"
    When the runner resumes that run with "--start-step 3"
    Then steps 1 and 2 kept their earlier results and steps 3 and 6 ran in the resumed pass
    And the resumed pass used the environment of the first one
    When that run is torn down with "--teardown-only"
    Then nothing of the run is left

  @trace.000.breakpoint-and-resume-support.wait-mode
  Scenario: Wait mode
    When the runner runs the fixture plan on a terminal with "--wait --end-step 1"
    Then it waits for confirmation before teardown, with the environment still up
    When I press Enter
    Then the runner exits 0 and nothing of the run is left

  @trace.000.error-handling-with-interactive-recovery.failure-recovery-menu
  Scenario: Failure recovery menu
    When the runner runs the fixture plan on a terminal with "--end-step 3"
    Then it asks before tearing down, with the environment still up
    When I answer "s" to open a shell and run "rerun 1" there
    Then step 1 runs again in the same environment
    When I leave the shell and answer "r"
    Then step 2 runs again
    When I answer "e"
    Then the runner exits 1 and the environment is still up
    When that run is torn down with "--teardown-only"
    Then nothing of the run is left

  @trace.000.step-listing.list-steps
  Scenario: List steps
    When the runner lists the fixture plan's steps
    Then all 6 steps are printed with their numbers and names
    And nothing was run

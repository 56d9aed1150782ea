@switchover
Feature: Analysing soak runs
  Requirement 003, step 6: `gauntlet analyze` reads a soak run dir as the orchestrator wrote it
  and reports P50/P90/P95 per phase, the success rate, deltas against a baseline run with
  regression flags, and plots when matplotlib is installed. The runs here are real offline soaks
  (`gauntlet soak` as a process, each with its own local etcd cluster).

  Background:
    Given a finished soak run "base" of "--cycles 6 --cooldown 0"

  @trace.003.analyzer.cycle-results
  Scenario: The analyzer reads the orchestrator's run dir as it is
    When gauntlet analyze runs on "base" with "--json --no-plots"
    Then it exits 0
    And the analysis counts 6 cycles, all passed, and every phase 6 times

  @trace.003.analyzer.percentiles
  Scenario: Phase durations are reported with P50, P90 and P95
    When gauntlet analyze runs on "base" with "--json --no-plots"
    Then every phase has P50 <= P90 <= P95, in seconds

  @trace.003.analyzer.compare
  Scenario: --compare shows the deltas between two runs
    Given a finished soak run "again" of "--cycles 6 --cooldown 0"
    When gauntlet analyze runs on "again" with "--compare base --threshold 1000 --no-plots"
    Then it exits 0
    And it printed "Comparison: base"
    And it printed "No regressions"

  @trace.003.analyzer.regression-flags
  Scenario: A slower activation is flagged as a regression
    Given a finished soak run "slow" of "--cycles 6 --cooldown 0 --inject-failure delay-activation --delay 0.6"
    When gauntlet analyze runs on "slow" with "--compare base --no-plots"
    Then it exits 1
    And it printed "activation"
    And it printed "REGRESSION"

  @trace.003.analyzer.optional-plotting
  Scenario: Plots when matplotlib is installed, a clear note when it is not
    When gauntlet analyze runs on "base"
    Then it exits 0
    And the run dir has the plots "phase_durations.png" and "phase_boxplot.png"
    When gauntlet analyze runs on "base" without matplotlib
    Then it exits 0
    And it printed "plots skipped: matplotlib not installed"

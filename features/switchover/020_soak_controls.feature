@switchover
Feature: Soak controls of gauntlet soak
  Requirement 003, phase 2: time-boxed runs, a failure budget, a cooldown between cycles, and
  resume after an interruption (even SIGKILL) with no cycle lost or counted twice. Each scenario
  runs `gauntlet soak` as a process, as an operator would; offline it starts its own local etcd
  cluster under its run dir and stops it at the end (so this feature has no cluster fixture).

  @trace.003.soak-controls.run-hours
  Scenario: --run-hours stops starting cycles when the time is up
    When gauntlet soak runs with "--cycles 500 --cooldown 0 --run-hours 0.0008"
    Then it exits 0
    And the run stopped because of "--run-hours 0.0008: time is up"
    And fewer than 500 cycles were recorded, all passed

  @trace.003.soak-controls.max-failures
  Scenario: --max-failures stops the run after N failed cycles
    When gauntlet soak runs with "--cycles 6 --cooldown 0 --max-failures 2 --inject-failure pause-member --inject-at-phase preflight --phase-timeout 2"
    Then it exits 1
    And the run stopped because of "--max-failures 2: 2 cycles failed"
    And 2 cycles were recorded, all failed

  @trace.003.soak-controls.cooldown
  Scenario: --cooldown waits between cycles
    When gauntlet soak runs with "--cycles 3 --cooldown 1.5"
    Then it exits 0
    And each cycle started at least 1.5 s after the previous one finished

  @trace.003.soak-controls.resume
  Scenario: --resume continues after SIGKILL at random points, with no cycle lost or counted twice
    When gauntlet soak "--cycles 6 --cooldown 0 --monitor-interval 0.2" is killed with SIGKILL at 4 seeded random points, resumed each time
    Then it exits 0 and printed "soak: 6 passed, 0 failed"
    And cycles 1 to 6 were recorded exactly once each, in metrics.jsonl and in the analyzer's view
    And the interrupted cycles were run again from their first phase
    And no process of the run is left

  @trace.003.soak-controls.resume
  Scenario: SIGTERM stops the run after recording it, and --resume finishes it
    When gauntlet soak "--cycles 8 --cooldown 0" gets SIGTERM after 12 records
    Then it exits 143 and printed "interrupted: resume with"
    And no process of the run is left
    When the run is resumed
    Then it exits 0 and printed "soak: 8 passed, 0 failed"
    And cycles 1 to 8 were recorded exactly once each, in metrics.jsonl and in the analyzer's view

  @trace.003.run.manifest
  Scenario: The run writes manifest.json with its inputs, the git SHA, tool versions and host
    When gauntlet soak runs with "--cycles 1 --cooldown 0"
    Then it exits 0 and printed "soak: 1 passed, 0 failed"
    And the manifest holds the run id, the start time, the inputs, the git SHA, the tool versions and the host

  @trace.003.run.dry-run
  Scenario: A dry run validates the orchestration without any cluster
    When gauntlet soak runs with "--cycles 3 --cooldown 0 --dry-run"
    Then it exits 0 and printed "soak: 3 passed, 0 failed"
    And cycles 1 to 3 were recorded exactly once each, in metrics.jsonl and in the analyzer's view
    And no local cluster was started for the run

  @trace.003.run.ci-selection
  Scenario: The switchover scenarios are selected by the @switchover tag
    Then every scenario under features/switchover carries the @switchover tag
    When gauntlet soak runs with "--tags @lab"
    Then it exits 2 with one line naming "--tags"

  @trace.003.run.config
  Scenario Outline: Bad input <args> is refused with one line naming the option, before anything starts
    When gauntlet soak runs with "<args>"
    Then it exits 2 with one line naming "<option>"
    And no run dir was created

    Examples:
      | args                            | option             |
      | --cycles zero                   | --cycles           |
      | --max-failures 0                | --max-failures     |
      | --run-hours -2                  | --run-hours        |
      | --inject-failure meteor         | --inject-failure   |
      | --inject-failure pause-backup   | --inject-failure   |
      | --inject-at-phase lunch         | --inject-at-phase  |
      | --resume /nonexistent           | --resume           |

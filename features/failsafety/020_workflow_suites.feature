@failsafety
Feature: JSON workflow suites
  Suites in the document's JSON format run through the workflow executor and leave the
  document's result JSON in the reports. Everything is checked before the first step runs.

  @needs.local-nodes @trace.001.workflow.sequential-execution @trace.001.running.single-test
  Scenario Outline: The <suite> suite runs from its JSON file
    When the workflow suite "<suite>" of "fixtures/workflows/<file>" runs
    Then the suite succeeded with every step completed in order
    And every validate step recorded its checks and their attempts

    Examples:
      | suite               | file                     |
      | failsafety_basic    | failsafety_basic.json    |
      | single_node_failure | single_node_failure.json |
      | custom_verification | custom_command.json      |

  @needs.local-nodes @trace.001.result-structure @trace.001.test-output.logs @trace.001.cleanup.automatic
  Scenario: Result structure
    When the workflow suite "single_node_failure" of "fixtures/workflows/single_node_failure.json" runs
    Then its result JSON has these fields
      | field          | type   |
      | deployment_id  | string |
      | success        | bool   |
      | duration       | number |
      | workflow_steps | list   |
    And every workflow step has step_type, description, status, duration, error and validation_results
    And no node process of the suite is left running

  @trace.001.step-types.custom-command
  Scenario: A failing custom command fails its step with its exit code and output
    Given a workflow suite "probe" whose only step runs ["sh", "-c", "echo checking data; exit 4"]
    When the workflow suite "probe" of that file runs
    Then the step "custom_command" failed with exit code 4 and output "checking data"

  @trace.001.workflow-format.suite-structure @trace.001.step-types.validate @trace.001.running.list-tests
  Scenario: Suites are validated and listed without running anything
    When "gauntlet workflow validate" checks every file in fixtures/workflows
    Then it exits 0 and says "ok: 4 suites"
    When "gauntlet workflow list" lists fixtures/workflows/failsafety_basic.json
    Then it exits 0 and says "failsafety_basic  local"

  @trace.001.workflow-format.suite-structure
  Scenario Outline: A bad suite is refused before anything runs: <problem>
    Given a workflow suite "bad" with the step <step>
    When "gauntlet workflow run" runs it
    Then it exits 2 with one line naming the file, suite "bad", step 3 and "<field>"

    Examples:
      | problem          | step                                                        | field       |
      | unknown node     | {"step": "stop_node", "target_node": "n19"}                 | target_node |
      | unknown step     | {"step": "explode"}                                         | step        |
      | unknown check    | {"step": "validate", "checks": ["cluster_happy"]}           | checks      |
      | bad method       | {"step": "crash_node", "target_node": "n11", "method": "x"} | method      |
      | empty command    | {"step": "custom_command", "custom_command": []}            | custom_command |

  @trace.001.workflow-format.requirements
  Scenario: Unmet requirements skip the suite with the reason
    Given a workflow suite "big" that requires 100000 GB of memory
    When the workflow suite "big" of that file runs
    Then the suite was skipped because it needs 100000 GB of memory

  @trace.001.extending.custom-checks
  Scenario: A registered custom check runs in validate steps
    Given a custom check "deploy_dir_exists" is registered
    And a workflow suite "custom" whose only step validates "deploy_dir_exists"
    When the workflow suite "custom" of that file runs
    Then the suite succeeded with every step completed in order

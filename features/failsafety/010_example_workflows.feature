@failsafety @needs.local-nodes
Feature: Failsafety workflows on a real local 3-node cluster
  The document's example workflows, step by step, on nodes n11, n12 and n13: each an etcd member
  and an sshd on 127.0.0.11-13. Power operations act on the nodes' real processes; database
  checks are real etcd health, quorum and data.

  Background:
    Given a local cluster of nodes n11, n12 and n13 is deployed
    And these checks pass: data_integrity

  @trace.001.example-workflows.basic-start-stop @trace.001.step-types.init @trace.001.step-types.deploy
  @trace.001.step-types.stop-cluster @trace.001.step-types.start-cluster @trace.001.checks.cluster-status
  @trace.001.checks.cluster-status-stopped @trace.001.checks.vms-powered-off @trace.001.checks.database-running
  @trace.001.checks.data-integrity
  Scenario: Basic start/stop
    Then these checks pass: cluster_status, database_running
    When the cluster is stopped
    Then these checks pass: cluster_status_stopped, vms_powered_off, database_down
    When the cluster is started
    Then within 20 seconds these checks pass: cluster_status, database_running, data_integrity

  @trace.001.example-workflows.single-node-failure @trace.001.step-types.stop-node @trace.001.step-types.start-node
  @trace.001.checks.cluster-degraded @trace.001.checks.node-status @trace.001.checks.node-status-state
  @trace.001.checks.all-nodes-running @trace.001.checks.database-degraded
  Scenario: Single node failure
    Then these checks pass: all_nodes_running, node_status:n12
    When node n12 is stopped
    Then these checks pass: cluster_degraded, database_degraded, node_status:n11:running, node_status:n12:stopped, node_status:n13:running
    When node n12 is started
    Then within 20 seconds these checks pass: all_nodes_running, cluster_status, data_integrity

  @trace.001.example-workflows.crash-recovery @trace.001.step-types.crash-node-destroy @trace.001.checks.cluster-critical
  @trace.001.checks.database-down @trace.001.validation.allow-failures @trace.001.validation.retry
  Scenario: Crash recovery
    When node n11 is crashed with method "destroy"
    And node n12 is crashed with method "destroy"
    Then these checks pass: cluster_critical
    And the check database_down may fail without failing the validation
    When node n11 is started
    And node n12 is started
    Then the check cluster_status passes within 30 attempts 1 second apart
    And these checks pass: data_integrity

  @trace.001.power-control.universal-operations @trace.001.step-types.restart-node @trace.001.step-types.crash-node
  @trace.001.checks.ssh-connectivity @trace.001.checks.admin-ui-accessible
  Scenario: Reboot and crash over SSH work on every node
    Then these checks pass: ssh_connectivity, admin_ui_accessible
    When node n13 is restarted with method "ssh"
    Then within 20 seconds these checks pass: all_nodes_running, cluster_status
    When node n13 is crashed with method "ssh"
    Then within 20 seconds these checks pass: all_nodes_running, cluster_status, data_integrity

  @trace.001.step-types.restart-node-graceful
  Scenario: A graceful restart power-cycles the node
    When node n12 is restarted with method "graceful"
    Then within 20 seconds these checks pass: node_status:n12:running, cluster_status, data_integrity

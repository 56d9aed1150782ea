@lab
Feature: Infrastructure provisioning: build and initialize
  The runner builds the project, sets the lab's IAM policies and initializes a cluster of EC2
  instances (db0..dbN, app0, control0) in its own VPC, backs its config up to S3, and checks
  kubectl access to K3s. Offline, AWS is the moto endpoint; K3s needs a real target (@needs.k8s).

  @build @trace.000.infrastructure-provisioning-steps.build-and-initialize
  Scenario: Build the lab machine image
    When the lab machine image is built
    Then the image is available and tagged for this run

  @trace.000.infrastructure-provisioning-steps.build-and-initialize
  Scenario: Build and initialize
    When the project is built
    Then the build exited 0
    When the lab IAM policies are applied
    Then the node role carries the lab policies
    When the cluster is initialized
    Then these nodes are running
      | name     | role    |
      | db0      | db      |
      | db1      | db      |
      | db2      | db      |
      | app0     | app     |
      | control0 | control |
    And every network resource of the cluster is tagged for this run
    And the cluster config is backed up to S3

  @ebs @trace.000.infrastructure-provisioning-steps.build-and-initialize
  Scenario: EBS data volumes on the db nodes
    Given the lab cluster is provisioned
    Then every db node has an EBS data volume attached

  @needs.k8s @trace.000.infrastructure-provisioning-steps.build-and-initialize
  Scenario: kubectl access and K3s ready
    Given the lab cluster is provisioned
    When kubectl access is configured from the cluster's kubeconfig
    Then every K3s node is Ready within 300 seconds

@lab
Feature: Infrastructure provisioning: VPC and hosts
  After provisioning, the VPC carries the run's tags, the hosts can be listed, and the lab status
  endpoint (`gauntlet serve`, the requirement's "MCP server status endpoint") returns cluster data.

  @trace.000.infrastructure-provisioning-steps.vpc-and-host-verification
  Scenario: VPC and host verification
    Given the lab cluster is provisioned
    Then the VPC carries the tags ClusterId, created, gauntlet:run-id and gauntlet:expires
    When the hosts are listed
    Then there are 5 hosts, each with a private address and state running
    When the lab status server is started
    Then its /status returns the cluster, its 5 nodes, its networking and its S3 backup

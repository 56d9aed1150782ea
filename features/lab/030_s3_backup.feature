@lab
Feature: S3 backup verification
  Cluster state is backed up to S3 under clusters/<name>-<id>/config/ after provisioning.

  @trace.000.s3-backup-verification.backup-contains-required-files
  Scenario: Backup contains required files
    Given the lab cluster is provisioned
    When the S3 backup is listed
    Then the backup contains
      | file                         |
      | kubeconfig                   |
      | environment.sh               |
      | setup_instance.sh            |
      | cassandra.patch.yaml         |
      | cassandra-config/            |
    And the backed-up kubeconfig points at the control node on port 6443

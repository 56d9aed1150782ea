@failsafety
Feature: Power control across providers
  The capability matrix is data (gauntlet/adapters/power/matrix.py). Where the document marks an
  operation No or Manual but the provider's official SDK has it (hcloud power on/off, droplet
  power actions, libvirt create/destroy), Gauntlet goes beyond the document and does it through
  the API; the matrix notes say so. libvirt runs against its own test:///default driver and AWS
  against the offline endpoint, for real; the other providers are checked at the capability level.

  Scenario Outline: The <provider> row of the capability matrix
    Then the <provider> row says what the document says for every operation
    And every <provider> operation is implemented through its API or over SSH

    @trace.001.power-control.aws
    Examples: cloud providers the document supports
      | provider |
      | aws      |

    @trace.001.power-control.azure
    Examples: Azure
      | provider |
      | azure    |

    @trace.001.power-control.gcp
    Examples: GCP
      | provider |
      | gcp      |

    @trace.001.power-control.digitalocean
    Examples: DigitalOcean
      | provider     |
      | digitalocean |

    @trace.001.power-control.hetzner
    Examples: Hetzner
      | provider |
      | hetzner  |

    @trace.001.power-control.libvirt
    Examples: libvirt
      | provider |
      | libvirt  |

  @trace.001.power-control.aws @trace.001.step-types.crash-node-destroy
  Scenario: AWS power operations change real instance states
    Given 2 EC2 instances named n11 and n12 are running
    When node n11 is stopped through the aws provider
    Then instance n11 is "stopped"
    When node n11 is started through the aws provider
    Then instance n11 is "running"
    When node n12 is crashed with method "destroy" through the aws provider
    Then instance n12 is "stopped"

  @trace.001.power-control.libvirt
  Scenario: libvirt power operations change real domain states
    Given libvirt's test driver with a running domain named n11
    When node n11 is stopped through the libvirt provider
    Then domain n11 is "stopped"
    When node n11 is started through the libvirt provider
    Then domain n11 is "running"
    When node n11 is crashed with method "destroy" through the libvirt provider
    Then domain n11 is "stopped"

  @trace.001.power-control.unsupported-operations
  Scenario: What a provider really cannot do names the SSH alternative
    Given libvirt's test driver with a transient domain named n11
    When node n11 is stopped through the libvirt provider
    Then the operation is refused with NotImplementedError naming "libvirt", "stop_node" and "ssh"

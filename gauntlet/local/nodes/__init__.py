"""Local nodes: a real etcd + sshd cluster on 127.0.0.11-13 to stop, crash, pause and reboot.

``cluster.LocalCluster`` starts and stops it; ``node.Node`` is one node; ``machine`` is the
per-node process that owns the node's etcd member and sshd; ``shim`` is the sshd ForceCommand
that maps reboot / poweroff / SysRq to that node; ``keys`` makes the per-run SSH keys;
``registry`` lists the nodes the SSH power methods may address.
"""

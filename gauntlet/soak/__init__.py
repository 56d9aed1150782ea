"""Soak runs of the switchover: many cycles in a row, each one timed phase by phase.

    gauntlet soak --cycles 20 --tags @switchover          # offline: the local etcd cluster
    gauntlet soak --resume                                # after a crash, even a SIGKILL

Where things live (one concept per module):

==================  =============================================================================
config.py           RunConfig: what a run is asked to do; checked before anything starts
ids.py              run ids and cycle ids (every artifact carries both)
manifest.py         manifest.json: inputs, git SHA, tool versions, host, resumes
metrics.py          metrics.jsonl writer: one record per line, flushed per record
state.py            what a run has durably done (resume) and the fresh state of one cycle
artifacts.py        per-cycle folder: log, metrics, state, environment snapshot
phases.py           the five phases, the backend interface, timing of one phase
etcd_switchover.py  offline backend: move etcd leadership between two members of LocalCluster
hub_switchover.py   real backend: the ACM hub switchover through the kubernetes client
dry_run.py          a backend that touches nothing (CI validation of the orchestration)
injection.py        --inject-failure: faults at a chosen phase, cleared before recovery
monitor.py          background polling: samples and alerts into metrics.jsonl
progress.py         console lines: cycle, phase, pass/fail, ETA
orchestrator.py     the cycle loop: roles, phases, recovery, soak controls, stop reasons
substrate.py        the local cluster a run owns: start (reaping a killed run's leftovers), stop
cli.py              `gauntlet soak` (python -m gauntlet.soak.cli)
process.py          `gauntlet soak` / `gauntlet analyze` as child processes (features, kill tests)
fixture.py          @fixture.local-cluster for the @switchover features
==================  =============================================================================

A run dir (``reports/soak/<run-id>/``; ``reports/soak/latest`` points at the newest)::

    manifest.json      run_id, started, inputs (RunConfig), git_sha, tool_versions, host, resumes
    metrics.jsonl      run, phase, cycle, sample and alert records (gauntlet analyze reads it)
    state.json         the first cycle's roles (pair), so a resume keeps them
    journal.jsonl      the resource ledger: the local cluster's processes and directory
    soak.log           the progress lines
    run.lock           held while a process runs the run (a second --resume is refused)
    cluster/           offline: the local cluster (n11..n13: etcd data, configs, logs)
    cycles/<cycle-id>/ log.txt, metrics.json, state.json, environment.json
"""

"""The head-to-head bench, one job per module: ``workload`` (problems, N, sampling, seeds), ``backend`` (the shared
concurrent OpenAI-compatible server), ``systems`` (k2think, the reference flow and script, optillm), ``script``
(running the published reference ``main.py``), ``run`` (processes, interleaving, metering, the resumable journal),
``stats`` (intervals, paired differences, targets), ``report`` (JSON and markdown), ``cli`` (the options)."""

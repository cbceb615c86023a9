"""The solver service: k2core's Solver role over gRPC, streaming deltas."""

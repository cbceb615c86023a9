"""The planner service: k2core's Planner role over gRPC."""

"""The gateway: the Reasoner gRPC service and the OpenAI-compatible HTTP facade over the k2core pipeline."""

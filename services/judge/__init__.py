"""The judge service: k2core's Judge role over gRPC."""

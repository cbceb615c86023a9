"""Training: SFT and RLVR job files, verl configs, KubeRay manifests, and real local CPU runs.

Heavy dependencies (torch, verl, ray, transformers) are imported by the modules that need them, so reading a
job file or rendering its manifests stays light.
"""

from k2core.training.config import JOB_KINDS, TrainConfig, load_config, parse_config

__all__ = ["JOB_KINDS", "TrainConfig", "load_config", "parse_config"]

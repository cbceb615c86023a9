"""Datasets as Problems: loaders for the shared real data, seeded generators, and verl/JSONL export."""

from k2core.data.datasets import dataset_domain, generate, generator, list_datasets, load_dataset
from k2core.data.export import export_verl, read_jsonl, verl_record, write_jsonl, write_verl_parquet
from k2core.data.files import data_dir
from k2core.data.problem import Problem

__all__ = [
    "Problem",
    "data_dir",
    "dataset_domain",
    "export_verl",
    "generate",
    "generator",
    "list_datasets",
    "load_dataset",
    "read_jsonl",
    "verl_record",
    "write_jsonl",
    "write_verl_parquet",
]

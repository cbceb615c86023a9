"""The Settings tree: every field documented (the README and chart docs are rendered from the descriptions)."""

from __future__ import annotations

import typing

import pytest
from pydantic import BaseModel

from k2core import config


def sections(model: type[BaseModel]) -> list[type[BaseModel]]:
    """``model`` and every settings model nested under it, each once."""
    found: list[type[BaseModel]] = [model]
    for field in model.model_fields.values():
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and arg not in found:
                found += [s for s in sections(arg) if s not in found]
    return found


def test_the_tree_reaches_every_settings_model_of_the_module() -> None:
    models = {
        obj
        for obj in vars(config).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == config.__name__
    }
    assert models == set(sections(config.Settings))


@pytest.mark.parametrize("model", sections(config.Settings), ids=lambda m: m.__name__)
def test_every_field_has_a_description(model: type[BaseModel]) -> None:
    missing = [name for name, field in model.model_fields.items() if not (field.description or "").strip()]
    assert not missing, f"{model.__name__} fields without a description: {missing}"

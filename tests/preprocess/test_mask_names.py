"""The mask backends' registry (``preprocess.mask_names``): every entry builds, and what a config
may name is derived from it."""

import importlib

import pytest

from neural_atlases.errors import UserError
from neural_atlases.preprocess.mask_names import (
    CLASS_BACKEND,
    KEYWORD_CLASSES,
    MASK_BACKENDS,
    check_foreground_class,
    mask_backend_name,
)


@pytest.mark.parametrize("name", sorted(MASK_BACKENDS))
def test_every_entry_names_a_factory_and_says_what_it_is(name):
    entry = MASK_BACKENDS[name]
    module, function = entry.factory.split(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert entry.name == name and len(entry.help) > 20


def test_the_keywords_are_the_registry_less_the_class_backend():
    assert set(KEYWORD_CLASSES) == (set(MASK_BACKENDS) - {CLASS_BACKEND}) | {"anything"}
    for name in KEYWORD_CLASSES:
        assert mask_backend_name(name) == (CLASS_BACKEND if name == "anything" else name)


def test_a_misspelt_class_names_the_key_and_the_keywords():
    with pytest.raises(UserError, match=r"'preprocess.foreground_class'.*or one of: auto, motion"):
        check_foreground_class("isnte")

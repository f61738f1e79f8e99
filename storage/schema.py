"""The complete schema: every ``storage.models*`` module, imported so that
``Base.metadata`` knows every table (Alembic's autogenerate and the models-match-migrations
test read it from here). Each feature keeps its tables in a module of its own.
"""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

import storage
from storage.models import Base


def load_models() -> MetaData:
    for module in pkgutil.iter_modules(storage.__path__):
        if module.name == "models" or module.name.startswith("models_"):
            importlib.import_module(f"storage.{module.name}")
    return Base.metadata


metadata = load_models()

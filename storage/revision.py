"""Write a new Alembic revision from the models: ``python -m storage.revision ID DOWN "what"``.

``DOWN`` is the revision the new one builds on (features branch from the revision they
need; ``upgrade`` applies every head). The database used to compare is a scratch SQLite
file, so the result is portable; the UTC timestamp type is written as plain
``sa.DateTime(timezone=True)``, which is what it stores.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory

from storage.database import create_engine
from storage.migrate import MIGRATIONS, alembic_config, upgrade


def main(revision: str, down: str, message: str) -> Path:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'scratch.db'}"

        async def prepare() -> None:
            engine = create_engine(url)
            # Every head is applied so the comparison finds only what is new; the new
            # revision still names ``down`` as the one it builds on.
            await upgrade(engine, "heads")
            await engine.dispose()

        asyncio.run(prepare())
        config = alembic_config(url)
        heads = ScriptDirectory.from_config(config).get_heads()
        command.revision(
            config,
            message=message,
            autogenerate=True,
            rev_id=revision,
            head=down,
            # Building on a revision that others already build on starts a new branch.
            splice=down not in heads,
        )
    path = next((MIGRATIONS / "versions").glob(f"{revision}_*.py"))
    text = path.read_text(encoding="utf-8")
    text = text.replace("storage.models.UTCDateTime(timezone=True)", "sa.DateTime(timezone=True)")
    text = "\n".join(line for line in text.split("\n") if not line.strip().startswith("# ###"))
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    print(main(*sys.argv[1:4]))

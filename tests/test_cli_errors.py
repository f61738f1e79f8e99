"""``pufa`` as a new user meets it: a missing setting or a database that is not there is
one line naming it, with a non-zero exit, no traceback, and no library chatter.

Run as a separate process in a clean environment and an empty folder, so that no
``.env`` and no variable of the test run is picked up.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_end_to_end import free_port

PUFA = Path(sys.executable).parent / "pufa"


def pufa(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PUFA), *args],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return (result.stdout + result.stderr).strip().splitlines()


def test_run_without_a_token_is_one_line_naming_it(tmp_path: Path) -> None:
    result = pufa(tmp_path, "run")
    assert result.returncode != 0
    assert lines(result) == ["Error: PUFA_BOT_TOKEN is not set"]


def test_an_unreachable_database_is_one_line_naming_host_and_port(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://pufa:secret@127.0.0.1:{port}/pufa"
    expected = (
        f"Error: PUFA_DATABASE_URL: cannot connect to PostgreSQL at 127.0.0.1:{port}: "
        "connection refused"
    )
    upgrade = pufa(tmp_path, "db", "upgrade", PUFA_DATABASE_URL=url)
    assert upgrade.returncode != 0
    assert lines(upgrade) == [expected]
    run = pufa(tmp_path, "run", PUFA_DATABASE_URL=url, PUFA_BOT_TOKEN="123:abc")
    assert run.returncode != 0
    assert lines(run) == [expected]
    # -v shows the details as well.
    verbose = pufa(tmp_path, "-v", "db", "upgrade", PUFA_DATABASE_URL=url)
    assert verbose.returncode != 0
    assert "Traceback" in verbose.stderr and lines(verbose)[-1] == expected


def test_a_sqlite_file_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    result = pufa(tmp_path, "db", "upgrade", PUFA_DATABASE_URL="sqlite+aiosqlite:///no/pufa.db")
    assert result.returncode != 0
    assert lines(result) == [
        "Error: PUFA_DATABASE_URL: cannot open the SQLite database no/pufa.db: no folder no"
    ]


def test_library_info_logs_stay_quiet(tmp_path: Path) -> None:
    result = pufa(tmp_path, "db", "upgrade", PUFA_DATABASE_URL="sqlite+aiosqlite:///pufa.db")
    assert result.returncode == 0, result.stderr
    assert lines(result) == ["Database is up to date."]
    assert (tmp_path / "pufa.db").exists()

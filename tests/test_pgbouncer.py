"""Behind PgBouncer in transaction pooling mode (``?pgbouncer=transaction`` on the
database URL): Debian's pgbouncer is started here in front of the test server, and the
PostgreSQL half of a slice of the suite (migrations, quiz answers, the report on its
shared snapshot, the outbox, the scheduler's claims) runs through it in a
pytest of its own."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[1]
THROUGH_PGBOUNCER = (
    "tests/test_storage.py",  # migrations under the advisory lock, models
    "tests/test_statistics.py",  # the report's queries on one exported snapshot
    "tests/test_publicity_sending.py",  # the outbox claimed with SKIP LOCKED
    "tests/test_scheduler.py",  # jobs claimed once across processes
)


def _binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(found).exists():  # `make test` installs it; a bare run without it says so
        pytest.fail("pgbouncer is needed for this test: apt-get install pgbouncer")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pgbouncer() -> Iterator[str]:
    """PgBouncer on a free port in transaction mode; the URL to give the bot."""
    server = make_url(POSTGRES_URL)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = _free_port()
    (folder / "users.txt").write_text(f'"{server.username or "postgres"}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={server.host or '127.0.0.1'} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder}/users.txt\n"
        "pool_mode = transaction\nmax_client_conn = 500\ndefault_pool_size = 20\n"
        "server_reset_query = DISCARD ALL\nserver_reset_query_always = 1\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"logfile = {folder}/pgbouncer.log\npidfile = {folder}/pgbouncer.pid\n"
    )
    command = [_binary(), str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # it refuses to run as root: as the server's own user
        user = pwd.getpwnam("postgres")
        for path in (folder, *folder.iterdir()):
            os.chown(path, user.pw_uid, user.pw_gid)
        command[1:1] = ["-u", "postgres"]
    # Its log goes to the file: a pipe nobody reads would fill and stop it.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # until it accepts connections
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            pytest.fail("pgbouncer did not start")
        if process.poll() is not None:
            log = folder / "pgbouncer.log"
            pytest.fail(f"pgbouncer stopped: {log.read_text() if log.exists() else ''}")
        url = server.set(port=port, host="127.0.0.1").update_query_dict(
            {"pgbouncer": "transaction"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_postgresql_path_runs_through_pgbouncer_in_transaction_mode(pgbouncer: str) -> None:
    environment = dict(os.environ, PUFA_TEST_POSTGRES_URL=pgbouncer)
    finished = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
            # (not the thousands-of-recipients broadcast: pacing, not pooling)
            "-k", "postgresql and not thousands", *THROUGH_PGBOUNCER,
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    summary = finished.stdout.strip().splitlines()[-1] if finished.stdout.strip() else ""
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary

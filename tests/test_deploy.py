"""The deployment files: nginx accepts both sites, and nginx, systemd and compose agree on
the bot processes, their ports and the paths the bot serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bot.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def nginx() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:  # `make test` installs it; a bare pytest run without it says so
        pytest.fail("nginx is needed to check deploy/nginx: apt-get install nginx")
    return found


@pytest.mark.parametrize("site", ["pufa.conf", "compose.conf"])
def test_nginx_accepts_the_site(site: str, tmp_path: Path) -> None:
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=pufa.test",
            "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    locations = tmp_path / "pufa-locations.conf"
    shutil.copy(DEPLOY / "nginx" / "pufa-locations.conf", locations)
    text = (DEPLOY / "nginx" / site).read_text(encoding="utf-8")
    text = text.replace("/etc/nginx/pufa-locations.conf", str(locations))
    text = text.replace("/etc/ssl/pufa/", f"{tmp_path}/")
    # compose.conf names the bot services; outside compose they resolve nowhere.
    text = re.sub(r"server bot(\d):8080", r"server 127.0.0.1:808\1", text)
    (tmp_path / "site.conf").write_text(text, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    checked = subprocess.run(
        [nginx(), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


def test_nginx_forwards_what_the_bot_serves() -> None:
    locations = (DEPLOY / "nginx" / "pufa-locations.conf").read_text(encoding="utf-8")
    assert f"location = {Settings().webhook_path} " in locations
    for path in ("/r/", "/admin/", "/m/", "= /healthz", "= /readyz", "= /metrics"):
        assert f"location {path}" in locations, path
    assert "deny all;" in locations.split("location = /metrics")[1].split("}")[0]


def test_systemd_units_and_nginx_name_the_same_processes() -> None:
    unit = (DEPLOY / "systemd" / "pufa@.service").read_text(encoding="utf-8")
    assert (
        "Environment=PUFA_LISTEN_PORT=%i" in unit and "EnvironmentFile=/etc/pufa/pufa.env" in unit
    )
    enabled = re.search(r"systemctl enable --now (.+)", unit)
    assert enabled is not None
    ports = sorted(re.findall(r"pufa@(\d+)", enabled.group(1)))
    upstream = sorted(
        re.findall(r"server 127\.0\.0\.1:(\d+)", (DEPLOY / "nginx" / "pufa.conf").read_text())
    )
    assert ports == upstream == ["8081", "8082", "8083"]


def test_compose_runs_three_bots_on_one_image_after_the_migration() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    bots = sorted(name for name in services if name.startswith("bot"))
    assert bots == ["bot1", "bot2", "bot3"]
    for name in bots:
        bot = services[name]
        assert bot["image"] == "pufa-bot" and bot["build"]["dockerfile"] == "deploy/Dockerfile"
        assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert bot["environment"]["PUFA_REDIS_URL"].startswith("redis://redis:")
    assert services["migrate"]["command"] == ["pufa", "db", "upgrade"]
    upstream = (DEPLOY / "nginx" / "compose.conf").read_text(encoding="utf-8")
    assert sorted(re.findall(r"server (bot\d):8080", upstream)) == bots


def test_the_example_settings_are_settings_the_bot_knows() -> None:
    names = set(Settings.model_fields)
    for line in (DEPLOY / "pufa.env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key = line.split("=", 1)[0]
            assert key.startswith("PUFA_") and key[5:].lower() in names, key

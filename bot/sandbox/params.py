"""Reading Bot API parameters the way Telegram does: query string, form, multipart or JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from bot.sandbox.errors import bad_request


@dataclass(slots=True)
class Upload:
    """A file part of a multipart request."""

    filename: str
    content_type: str | None
    data: bytes


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


class Params:
    """Typed access to request parameters (values are strings or, from JSON bodies, native)."""

    __slots__ = ("files", "values")

    def __init__(
        self, values: Mapping[str, Any], files: Mapping[str, Upload] | None = None
    ) -> None:
        self.values = dict(values)
        self.files = dict(files or {})

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) is not None

    def raw(self, name: str) -> Any:
        return self.values.get(name)

    def get_str(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, ensure_ascii=False)

    def req_str(self, name: str) -> str:
        value = self.get_str(name)
        if value is None or value == "":
            raise bad_request(f"{name} is empty")
        return value

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def req_int(self, name: str) -> int:
        value = self.get_int(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        return value

    def get_float(self, name: str, default: float | None = None) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return bool(value)
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise bad_request(f"invalid {name} specified")

    def get_json(self, name: str, what: str | None = None) -> Any:
        """A JSON-serialized parameter, decoded (``None`` when absent)."""
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {what or name} JSON object") from None

    def get_file(self, name: str) -> Upload | str | None:
        """An input file: an uploaded part, or a string (file_id or URL)."""
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = self.files.get(value[len("attach://") :])
            if upload is None:
                raise bad_request(f"wrong file identifier/HTTP URL specified for {name}")
            return upload
        if value is None or value == "":
            return self.files.get(name)
        if isinstance(value, str):
            return value
        raise bad_request(f"wrong file identifier/HTTP URL specified for {name}")


_BOUNDARY_RE = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_DISPOSITION_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def _disposition(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in _DISPOSITION_PARAM_RE.finditer(header):
        key = match.group(1).lower()
        quoted, bare = match.group(2), match.group(3)
        value = quoted.replace('\\"', '"') if quoted is not None else (bare or "").strip()
        if key.endswith("*"):
            # RFC 5987: charset'language'percent-encoded
            charset, _, rest = value.partition("'")
            _, _, encoded = rest.partition("'")
            params[key[:-1]] = unquote(encoded, encoding=charset or "utf-8", errors="replace")
        else:
            params.setdefault(key, value)
    return params


def parse_multipart(
    body: bytes, boundary: bytes, values: dict[str, Any], files: dict[str, Upload]
) -> None:
    """Split a whole multipart/form-data body into text fields and file parts.

    Reading the body at once and splitting on the boundary is much cheaper than a
    streaming parser for the small requests a bot sends.
    """
    chunks = body.split(b"--" + boundary)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        disposition = ""
        content_type: str | None = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                continue
            name = name.strip().lower()
            if name == "content-disposition":
                disposition = value.strip()
            elif name == "content-type":
                content_type = value.strip()
        params = _disposition(disposition)
        field = params.get("name")
        if not field:
            continue
        if "filename" in params:
            files[field] = Upload(params["filename"], content_type, content)
        else:
            values[field] = content.decode("utf-8", "replace")


async def read_params(request: web.Request) -> Params:
    """Collect parameters from the query string and any supported body."""
    values: dict[str, Any] = dict(request.query) if request.query_string else {}
    files: dict[str, Upload] = {}
    if not request.body_exists:
        return Params(values, files)
    # parsed by hand: the generic Content-Type parser is costly at thousands of requests/s
    content_type = request.headers.get("Content-Type", "")
    ctype = content_type.partition(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        boundary = _BOUNDARY_RE.search(content_type)
        if boundary is None:
            raise bad_request("can't parse multipart/form-data request: no boundary")
        body = await request.read()
        parse_multipart(body, (boundary.group(1) or boundary.group(2)).encode(), values, files)
    elif ctype == "application/x-www-form-urlencoded":
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                values[key] = value
            elif isinstance(value, web.FileField):
                files[key] = Upload(value.filename, value.content_type, value.file.read())
    elif ctype == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if isinstance(body, dict):
            values.update(body)
    return Params(values, files)

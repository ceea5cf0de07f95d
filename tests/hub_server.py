"""A local stand-in for the Hugging Face Hub, so downloads and uploads run through the real client code.

It answers the four requests ``huggingface_hub.snapshot_download`` sends for a dataset repo
(revision, tree listing, HEAD of a file, GET of a file with ``Range`` support), the HEAD and GET
that ``hf_hub_download`` (and transformers' ``from_pretrained``) send for a file of a model repo
(at ``main`` or the commit), and the POSTs of ``HfApi.create_repo`` and ``create_commit`` /
``upload_file`` (create, preupload, commit, and the check of a README.md's YAML header). Its
preupload answer asks for every file as a regular upload, so the commit carries the files inline
(base64 in its ndjson); the real Hub asks
for LFS or Xet uploads of large binary files, a route these tests do not take. It records every
request, and can be told to fail the way the real Hub does (401, gated 403, plain 403, a
connection cut in the middle of a file). The client reads ``HF_ENDPOINT`` when it is imported,
so code under test runs in a subprocess started by :func:`run_python` with a clean environment
(or, in the test's own process, with ``huggingface_hub.constants.ENDPOINT`` patched).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

REVISION_PATH = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")
TREE_PATH = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)$")
RESOLVE_PATH = re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
MODEL_RESOLVE_PATH = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
CREATE_PATH = re.compile(r"^/api/repos/create$")
VALIDATE_YAML_PATH = re.compile(r"^/api/validate-yaml$")
PREUPLOAD_PATH = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/preupload/(?P<rev>[^/]+)$")
COMMIT_PATH = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/commit/(?P<rev>[^/]+)$")
RANGE_HEADER = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; ``kind`` is revision, tree, head, get, model_head, model_get,
    create, validate_yaml, preupload, commit or unknown."""

    method: str
    path: str
    query: dict[str, list[str]]
    kind: str
    range: str | None
    authorization: bool
    token: str | None = None  # the bearer token it carried


@dataclass
class Failure:
    """An injected failure: an HTTP error for every request, or a GET cut after ``cut_after`` bytes."""

    status: int | None = None
    error_code: str | None = None
    cut_after: int | None = None
    filename: str | None = None  # cut this file only
    times: int | None = None  # None: every time


class HubServer:
    """Serves dataset repos ``{repo_id: {filename: bytes}}`` at one commit, and model repos
    (``models``, which uploads add to and create), on 127.0.0.1 and a free port.

    Uploads need ``write_token``: without it, or with another, the Hub's 401 answers."""

    def __init__(
        self,
        repos: dict[str, dict[str, bytes]],
        models: dict[str, dict[str, bytes]] | None = None,
        write_token: str | None = None,
    ):
        self.repos = repos
        self.models = models if models is not None else {}
        self.write_token = write_token
        self.sha = hashlib.sha1(repr(sorted((r, sorted(f)) for r, f in repos.items())).encode()).hexdigest()
        self.requests: list[Request] = []
        self._failure: Failure | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def fail_with(self, status: int, error_code: str | None = None, times: int | None = None) -> None:
        """Answer every request with ``status`` (``error_code`` goes in ``X-Error-Code``, e.g. GatedRepo)."""
        self._failure = Failure(status=status, error_code=error_code, times=times)

    def cut_downloads(self, after_bytes: int, filename: str | None = None, times: int | None = None) -> None:
        """Close the connection after ``after_bytes`` of a file body (of ``filename`` only, if given).

        ``times=None`` cuts every such GET: the client gives up after its retries.
        """
        self._failure = Failure(cut_after=after_bytes, filename=filename, times=times)

    def heal(self) -> None:
        self._failure = None

    def kinds(self) -> list[str]:
        with self._lock:
            return [r.kind for r in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_failure(self, kind: str, filename: str | None) -> Failure | None:
        """The failure that applies to this request, counting it down if it is limited."""
        with self._lock:
            failure = self._failure
            if failure is None:
                return None
            if failure.cut_after is not None and (kind != "get" or failure.filename not in (None, filename)):
                return None
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failure = None
            return failure


def _classify(method: str, path: str) -> tuple[str, re.Match[str] | None]:
    for kind, pattern, wanted in (
        ("revision", REVISION_PATH, "GET"),
        ("tree", TREE_PATH, "GET"),
        ("head", RESOLVE_PATH, "HEAD"),
        ("get", RESOLVE_PATH, "GET"),
        ("create", CREATE_PATH, "POST"),
        ("validate_yaml", VALIDATE_YAML_PATH, "POST"),
        ("preupload", PREUPLOAD_PATH, "POST"),
        ("commit", COMMIT_PATH, "POST"),
        ("model_head", MODEL_RESOLVE_PATH, "HEAD"),
        ("model_get", MODEL_RESOLVE_PATH, "GET"),
    ):
        match = pattern.match(path)
        if match and method == wanted:
            return kind, match
    return "unknown", None


def _handler_for(server: HubServer) -> type[BaseHTTPRequestHandler]:
    class HubHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the recorded requests are the log."""

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

        def do_POST(self) -> None:
            self._answer("POST")

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            kind, match = _classify(method, path)
            authorization = self.headers.get("Authorization", "")
            body = self.rfile.read(int(self.headers.get("Content-Length", 0))) if method == "POST" else b""
            server._record(
                Request(
                    method=method,
                    path=path,
                    query=parse_qs(url.query),
                    kind=kind,
                    range=self.headers.get("Range"),
                    authorization=bool(authorization),
                    token=authorization.removeprefix("Bearer ") or None,
                )
            )
            file = match["file"] if kind in ("head", "get", "model_head", "model_get") else None
            failure = server._take_failure(kind.removeprefix("model_"), file)
            if failure is not None and failure.status is not None:
                return self._error(failure.status, failure.error_code, "injected failure")
            if kind == "validate_yaml":
                return self._validate_yaml(json.loads(body)["content"])
            if kind in ("create", "preupload", "commit"):
                return self._upload(kind, match, authorization.removeprefix("Bearer "), body)
            if kind in ("model_head", "model_get"):
                return self._model_file(method, match, failure)
            files = server.repos.get(match["repo"]) if match else None
            if match is None or files is None:
                return self._error(404, "RepoNotFound", "Repository not found")
            if kind == "revision":
                return self._json({"id": match["repo"], "sha": server.sha, "private": False, "gated": False})
            if match["rev"] != server.sha:
                return self._error(404, "RevisionNotFound", "Invalid rev id")
            if kind == "tree":
                return self._json([_tree_entry(name, data) for name, data in sorted(files.items())])
            data = files.get(match["file"])
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found")
            self._file(method, data, cut_after=failure.cut_after if failure else None)

        def _model_file(self, method: str, match: re.Match[str], failure: Failure | None) -> None:
            files = server.models.get(match["repo"])
            if files is None:
                return self._error(404, "RepoNotFound", "Repository not found")
            if match["rev"] not in ("main", server.sha):
                return self._error(404, "RevisionNotFound", "Invalid rev id")
            data = files.get(match["file"])
            if data is None:
                return self._error(404, "EntryNotFound", "Entry not found")
            self._file(method, data, cut_after=failure.cut_after if failure else None)

        def _validate_yaml(self, readme: str) -> None:
            """A model card's header must be YAML, as the Hub checks before a commit with a README.md."""
            header = readme.split("---\n")[1] if readme.startswith("---\n") else ""
            try:
                yaml.safe_load(header)
            except yaml.YAMLError as error:
                body = json.dumps({"errors": [{"message": str(error)}]}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
            return self._json({"errors": [], "warnings": []})

        def _upload(self, kind: str, match: re.Match[str], token: str, body: bytes) -> None:
            """create_repo, then create_commit's preupload and commit (files inline, as regular uploads)."""
            if server.write_token is None or token != server.write_token:
                return self._error(401, None, "Invalid credentials in Authorization header")
            if kind == "create":
                request = json.loads(body)
                repo = f"{request['organization']}/{request['name']}"
                if repo in server.models:
                    return self._error(409, None, "You already created this model repo")
                server.models[repo] = {}
                return self._json({"url": f"{server.endpoint}/{repo}", "name": repo})
            files = server.models.get(match["repo"])
            if files is None:
                return self._error(404, "RepoNotFound", "Repository not found")
            if kind == "preupload":
                paths = [entry["path"] for entry in json.loads(body)["files"]]
                return self._json(
                    {"files": [{"path": p, "uploadMode": "regular", "shouldIgnore": False} for p in paths]}
                )
            for line in body.splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            server.sha = hashlib.sha1(repr(sorted(server.models.items())).encode()).hexdigest()
            commit_url = f"{server.endpoint}/{match['repo']}/commit/{server.sha}"
            return self._json({"commitUrl": commit_url, "commitOid": server.sha, "pullRequestUrl": None})

        def _json(self, payload: object) -> None:
            body = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, error_code: str | None, message: str) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            if error_code:
                self.send_header("X-Error-Code", error_code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _file(self, method: str, data: bytes, cut_after: int | None) -> None:
            start, end, status = 0, len(data) - 1, 200
            requested = RANGE_HEADER.match(self.headers.get("Range", ""))
            if requested and method == "GET":
                start, status = int(requested[1]), 206
                end = min(int(requested[2]), end) if requested[2] else end
            body = data[start : end + 1]
            self.send_response(status)
            self.send_header("X-Repo-Commit", server.sha)
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            if cut_after is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if method == "GET":
                self.wfile.write(body if cut_after is None else body[:cut_after])

    return HubHandler


def _tree_entry(name: str, data: bytes) -> dict[str, object]:
    """A tree entry as the Hub lists an LFS-tracked file (the zips are LFS files on the real Hub)."""
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(data).hexdigest()}\n"
    pointer += f"size {len(data)}\n"
    return {
        "type": "file",
        "path": name,
        "size": len(data),
        "oid": hashlib.sha1(f"blob {len(pointer)}\0{pointer}".encode()).hexdigest(),
        "lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": len(pointer)},
    }


def hub_environment(endpoint: str, hf_home: Path) -> dict[str, str]:
    """The environment of a process that must talk to ``endpoint`` only, anonymously, with no cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING_FACE_"))}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(hf_home),
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def run_python(
    code: str, endpoint: str, hf_home: Path, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``code`` with ``args`` in a fresh interpreter that talks to ``endpoint`` as its Hub.

    The client reads ``HF_ENDPOINT`` once, when it is imported, so the environment is set before.
    """
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=hub_environment(endpoint, hf_home),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[1],
    )

"""A stand-in Convex backend on loopback, for the Convex layer's tests.

No real Convex backend can run here, so this reproduces the routes, status
codes and bodies of ../shared/facts/convex.md (cited per route). Each test
configures one: healthy, without HTTP actions, with failing routes, with a
wrong admin key, empty origins, a Cloud deployment whose DATABASE_URL is
Fly-private, a public /metrics. `site=True` serves the HTTP-action proxy
(port 3211 / .convex.site), where every path is an HTTP-action path.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

RUNNING = "This Convex deployment is running. See https://docs.convex.dev/."  # §3.1, §2 step 3
NO_ROUTE = "No matching routes found"  # §3.4
NO_HTTP_ACTIONS = "This Convex deployment does not have HTTP actions enabled."  # §3.4
PROMETHEUS = "# HELP convex_backend_up Backend is up\n# TYPE convex_backend_up gauge\nconvex_backend_up 1\n"


# A route handler gets (method, path, headers) and returns (status, body, content type).
Route = Callable[[str, str, dict], tuple[int, str, str]]


def json_route(status: int, obj) -> Route:
    return lambda m, p, h: (status, json.dumps(obj), "application/json")


def text_route(status: int, text: str) -> Route:
    return lambda m, p, h: (status, text, "text/plain; charset=utf-8")


def throwing_route(message: str = "boom", redacted: bool = False) -> Route:
    # §3.4 "Handler threw": 500 {"code":"[Request ID: <id>] Server Error: <message>","trace":...}
    code = "[Request ID: 8f2a1c0b9d3e4f56] Server Error" + ("" if redacted else f": Uncaught Error: {message}")
    body = {"code": code} if redacted else {"code": code, "trace": f"Error: {message}\n    at handler (../convex/http.ts:7:11)"}
    return json_route(500, body)


@dataclass
class Config:
    kind: str = "selfHosted"  # §3.2 deployment_info kind: selfHosted | cloud
    instance_name: str = "convex-self-hosted"
    version: str = "1.29.0"
    admin_key: str = "convex-self-hosted|01c046ab1512d9306a6abda3eedec5dfe862f1fe0f66a5aee774fb9ae3fda877"
    admin_status: int | None = None  # force the 400 form of §1.7
    cloud_origin: str | None = ""  # CONVEX_CLOUD_ORIGIN; "" = the bare image's empty default (§1.1); None = use own URL
    site_origin: str | None = ""
    env: dict[str, str] = field(default_factory=dict)  # the deployment's environment variables
    metrics_public: bool = False  # §1.1 DISABLE_METRICS_ENDPOINT default false outside compose
    http_routes: dict[str, Route] | None = None  # None: no convex/http.ts deployed; keys "GET /path"
    canonical_urls_route: bool = True  # False: an older image without /api/v1/get_canonical_urls


class StandIn:
    def __init__(self, config: Config | None = None, site: bool = False, tls_cert: tuple[str, str] | None = None, port: int = 0, host: str = "127.0.0.1"):
        self.config = config or Config()
        self.site = site
        self.requests: list[tuple[str, str, dict]] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        if tls_cert:
            sc = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            sc.load_cert_chain(*tls_cert)
            self.server.socket = sc.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls_cert else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.server.server_address[0]}:{self.port}"

    def start(self) -> "StandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ routing
    def route(self, method: str, path: str, headers: dict, body: str = "") -> tuple[int, str, str]:
        c = self.config
        path_only = path.split("?", 1)[0]
        # Cloud serves <name>.convex.cloud and <name>.convex.site (HTTP actions, §3.4) side by side
        host = headers.get("host", "").rsplit(":", 1)[0]
        if self.site or host.endswith(".convex.site"):
            # The 3211 proxy is a ConvexHttpService of its own (version "unknown"), so it
            # answers its meta routes /version and /metrics itself and rewrites everything
            # else to /http{uri} (convex-backend crates/local_backend/src/proxy.rs
            # dev_site_proxy; crates/common/src/http/mod.rs meta_routes)
            if method == "GET" and path_only == "/version":
                return 200, "unknown", "text/plain"
            if method == "GET" and path_only == "/metrics":
                return self.metrics()
            return self.http_action(method, path_only, headers)
        if method == "GET" and path_only == "/":
            return 200, RUNNING, "text/plain; charset=utf-8"
        if method == "GET" and path_only in ("/version", "/instance_version"):
            return 200, c.version, "text/plain"
        if method == "GET" and path_only == "/instance_name":
            return 200, c.instance_name, "text/plain"
        if method == "GET" and path_only == "/metrics":
            return self.metrics()
        if path_only == "/http" or path_only.startswith("/http/"):
            # §3.1: any path under /http/... on 3210 is an HTTP action (self-hosted)
            return self.http_action(method, path_only[len("/http") :] or "/", headers)
        admin = {
            "/api/check_admin_key": lambda: json.dumps({"success": True, "allowedOps": ["ViewData", "WriteData", "Deploy"], "isReadOnly": False}),
            "/api/v1/deployment_info": lambda: json.dumps(
                {"kind": "selfHosted"} if c.kind == "selfHosted" else {"kind": "cloud", "teamId": 4242, "deploymentType": "dev"}
            ),
            "/api/v1/get_canonical_urls": lambda: json.dumps(
                {"convexCloudUrl": self.url if c.cloud_origin is None else c.cloud_origin, "convexSiteUrl": self.url + "/http" if c.site_origin is None else c.site_origin}
            ),
            "/api/v1/list_environment_variables": lambda: json.dumps({"environmentVariables": c.env}),
        }
        if not c.canonical_urls_route:
            admin.pop("/api/v1/get_canonical_urls")
        if method == "POST" and path_only == "/api/query":
            # §3.2: the admin-only system queries returning CONVEX_CLOUD_URL / CONVEX_SITE_URL,
            # in the §3.3 response shape {"status":"success","value":...}
            denied = self.check_auth(headers)
            if denied:
                return denied
            fn = json.loads(body or "{}").get("path", "")
            values = {
                "_system/cli/convexUrl:cloudUrl": self.url if c.cloud_origin is None else c.cloud_origin,
                "_system/frontend/convexSiteUrl": self.url + "/http" if c.site_origin is None else c.site_origin,
            }
            if fn not in values:
                return 200, json.dumps({"status": "error", "errorMessage": f"[Request ID: 1] Server Error\nCould not find public function for '{fn}'."}), "application/json"
            return 200, json.dumps({"status": "success", "value": values[fn]}), "application/json"
        if method == "GET" and path_only in admin:
            denied = self.check_auth(headers)
            if denied:
                return denied
            return 200, admin[path_only](), "application/json"
        return 404, "", ""  # §3.1: unmatched path → 404 with an empty body (axum default)

    def metrics(self) -> tuple[int, str, str]:
        # crates/common/src/http/mod.rs `metrics`: 404 MetricsDisabled when DISABLE_METRICS_ENDPOINT
        if self.config.metrics_public:
            return 200, PROMETHEUS, "text/plain; version=0.0.4"
        return 404, json.dumps({"code": "MetricsDisabled", "message": "/metrics endpoint disabled"}), "application/json"

    def check_auth(self, headers: dict) -> tuple[int, str, str] | None:
        """§1.7 key validation, in the backend's order (convex-backend
        crates/local_backend/src/authentication.rs ExtractAuthenticationToken)."""
        c = self.config
        auth = headers.get("authorization")
        if auth is None:
            # crates/keybroker/src/operations.rs bad_admin_key_error
            msg = (
                f"The provided deploy key was invalid for deployment '{c.instance_name}'. Double check that the "
                "environment this key was generated for matches the desired deployment."
            )
            return 403, json.dumps({"code": "BadDeployKey", "message": msg}), "application/json"
        if len(auth) < 7:  # h_str.get(..7) fails
            return 400, json.dumps({"code": "InvalidHeaderFailure", "message": "Invalid authentication header"}), "application/json"
        # authentication.rs:63 `.eq_ignore_ascii_case("convex ")` and :169 strip_prefix_ignore_case:
        # `convex `, `CONVEX ` and `Convex ` all carry an admin key; any other header that is
        # no `bearer ` token is InvalidAdminKey (bearer tokens go to JWT auth, not modelled here)
        if c.admin_status == 400 or auth[:7].lower() != "convex ":
            return 400, json.dumps({"code": "InvalidAdminKey", "message": "Invalid admin key"}), "application/json"
        if auth[7:] != c.admin_key:
            return 401, json.dumps({"code": "BadAdminKey", "message": "The provided admin key was invalid for this instance"}), "application/json"
        return None

    def http_action(self, method: str, path: str, headers: dict) -> tuple[int, str, str]:
        routes = self.config.http_routes
        if routes is None:
            return 404, NO_HTTP_ACTIONS, "text/plain; charset=utf-8"  # §3.4: no http.js deployed
        fn = routes.get(f"{method} {path}")
        if fn is None:
            return 404, NO_ROUTE, "text/plain; charset=utf-8"  # §3.4: router deployed, no match
        return fn(method, path, headers)

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                headers = {k.lower(): v for k, v in self.headers.items()}
                standin.requests.append((self.command, self.path, headers))
                length = int(headers.get("content-length") or 0)
                if self.command == "POST" and self.path.split("?", 1)[0] == "/echo" and not standin.site:
                    return self._echo(min(length, 128 << 20))  # §3.1: echoes the body bytes (network-test's echo checks)
                req_body = self.rfile.read(min(length, 1 << 20)).decode("utf-8", "replace") if length else ""
                status, body, ctype = standin.route(self.command, self.path, headers, req_body)
                data = body.encode()
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _echo(self, length: int):
                data = self.rfile.read(length) if length else b""
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve

            def log_message(self, *a):
                pass

        return Handler


class NotConvex:
    """A plain HTTP server that is not Convex (an nginx-style welcome page), or a
    proxy whose backend is down (status 502, server "Fly/...")."""

    def __init__(self, status: int = 200, server: str = "nginx/1.25.3", body: bytes = b"<html><body><h1>Welcome to nginx!</h1></body></html>"):
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                data = body
                self.send_response(status)
                self.send_header("Server", server)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def self_signed_cert(directory: Path) -> tuple[str, str]:
    crt, key = directory / "standin.crt", directory / "standin.key"
    if not crt.exists():
        subprocess.run(
            ["openssl", "req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(crt)],
            check=True, capture_output=True,
        )  # fmt: skip
    return str(crt), str(key)

"""The Convex layer: reach the deployment layer by layer (DNS, TCP, TLS, HTTP),
check the admin key, the origins and the deployment's own Postgres URL, ping
an HTTP action, and ask the fcp-doctor probe module how Postgres looks from
inside Convex. Exact bodies and status codes: ../shared/facts/convex.md §3.

Every request is bounded by ctx.timeout and reads at most MAX_BODY bytes.
The admin key travels only in the Authorization header, never in evidence.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .. import __version__
from ..inputs import searched
from ..model import FAIL, PASS, SKIPPED, WARN, Outcome
from ..secret import Secret, redact
from ..urls import ConvexUrl, UrlError, classify_host, parse_convex_url, parse_pg_url
from . import probe
from .net import resolve, tcp_connect

MAX_BODY = 64 * 1024
MAX_REDIRECTS = 3
# §3.1 / §2: the root route's exact text
RUNNING = "This Convex deployment is running. See https://docs.convex.dev/."
# §3.4: the 404 bodies of the HTTP-action router
NO_ROUTE = "No matching routes found"
NO_HTTP_ACTIONS = "This Convex deployment does not have HTTP actions enabled."
UDF_FAILED = 560  # §3.3: convex-js STATUS_CODE_UDF_FAILED
DEFAULT_ROUTE = "/fcp-doctor/no-such-route"  # a route that cannot exist: its 404 body tells what is deployed
PROBE_ROUTE = "/fcp-doctor/postgres"  # the route `fcp-doctor convex-probe init` writes
PROBE_TOKEN_VAR = "FCP_DOCTOR_TOKEN"
PG_VARS = ("DATABASE_URL", "POSTGRES_URL", "PG_URL", "POSTGRESQL_URL", "DB_URL")
CLIENT = f"fcp-doctor-{__version__}"  # Convex-Client header format {name}-{semver} (§3.3)


# ---------------------------------------------------------------- helpers


def convex_url(ctx) -> ConvexUrl | None:
    text = ctx.inputs.text("convex_url")
    if not text:
        return None
    try:
        return parse_convex_url(text)
    except UrlError:
        return None


def deployment_kind(ctx) -> str:
    return ctx.facts.get("convex_kind") or "self_hosted"


def tls_context() -> ssl.SSLContext:
    """The system trust store, as Convex clients and browsers use."""
    return ssl.create_default_context()


@dataclass
class Http:
    url: str
    status: int | None = None
    body: str = ""
    headers: dict = field(default_factory=dict)
    error: str = ""  # "" | timeout | connect | tls | redirects | protocol
    detail: str = ""
    ms: int = 0

    @property
    def answer(self) -> str:
        """What came back, in a few words: "HTTP 200", or what went wrong."""
        return self.detail if self.error else f"HTTP {self.status}"

    def got(self, status: int) -> bool:
        """A complete answer with this status (not one cut off mid-body)."""
        return not self.error and self.status == status

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def brief(self, n: int = 200) -> str:
        return redact(self.body.strip())[:n]  # masked, then cut: an echoed key straddling the cut stays masked


class _Inflate:
    """Content-Encoding undone a bounded prefix at a time: httpx inflates each network
    chunk whole, so 64 KB of gzip could become 64 MB at once (a decompression bomb)."""

    def __init__(self, encoding: str):
        enc = [e.strip().lower() for e in encoding.split(",") if e.strip() and e.strip().lower() != "identity"]
        self.unknown = ""
        self.done = False
        self.z = None
        if len(enc) == 1 and enc[0] in ("gzip", "x-gzip", "deflate"):
            self.z = zlib.decompressobj(47 if enc[0] != "deflate" else 15)  # 47: gzip or zlib header
            self.raw_deflate = enc[0] == "deflate"
        elif enc:
            self.unknown = ", ".join(enc)[:40]

    def feed(self, data: bytes, room: int) -> bytes:
        if self.unknown:
            self.done = True
            return b""
        if self.z is None:
            return data[: max(room, 0)]
        try:
            out = self.z.decompress(data, max(room, 1))
        except zlib.error:
            if self.raw_deflate:  # "deflate" without its zlib header, as some servers send
                self.z, self.raw_deflate = zlib.decompressobj(-15), False
                return self.feed(data, room)
            self.done = True
            return b""
        self.done = self.z.eof or len(out) >= room
        return out


def _client(ctx):
    import httpx

    c = ctx.resources.get("convex_http")
    if c is None:
        t = ctx.timeout
        c = httpx.AsyncClient(
            timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
            verify=tls_context(),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"Convex-Client": CLIENT, "User-Agent": CLIENT, "Accept-Encoding": "gzip, deflate"},
            trust_env=False,
        )
        ctx.resources["convex_http"] = c
    return c


async def request(ctx, method: str, url: str, headers: dict | None = None, json_body=None, timeout: float | None = None) -> Http:
    """One bounded request; the body is read as a prefix of at most MAX_BODY bytes."""
    import httpx

    r = Http(url=url)
    t = timeout or ctx.timeout
    client = _client(ctx)  # building it (the trust store) is local work, not waiting on the peer
    t0 = time.monotonic()
    size = 0
    try:
        async with asyncio.timeout(t):
            async with client.stream(method, url, headers=headers, json=json_body, timeout=t) as resp:
                r.status = resp.status_code
                r.headers = {k.lower(): v for k, v in resp.headers.items() if k.lower() in ("content-type", "server", "location", "via")}
                inflate = _Inflate(resp.headers.get("content-encoding", ""))
                chunks = []
                async for raw in resp.aiter_raw():  # decoded here, never more than MAX_BODY
                    chunk = inflate.feed(raw, MAX_BODY - size)
                    chunks.append(chunk)
                    size += len(chunk)
                    if size >= MAX_BODY or inflate.done:
                        break
                r.body = b"".join(chunks)[:MAX_BODY].decode("utf-8", errors="replace")
                if inflate.unknown:
                    r.body = f"(a body in {inflate.unknown} encoding, not decoded)"
                if str(resp.url) != url:
                    r.headers["final_url"] = str(resp.url)
    except (TimeoutError, httpx.TimeoutException):
        r.error = "timeout"
        if r.status is None:
            r.detail = f"no HTTP answer within {t:g} s"
        else:  # headers came, the body trickles (or stalls)
            r.detail = f"HTTP {r.status}, but only {size} byte{'' if size == 1 else 's'} of the body within {t:g} s"
    except httpx.TooManyRedirects as exc:
        try:
            last = str(exc.request.url)
        except RuntimeError:
            last = url
        r.error, r.detail = "redirects", f"more than {MAX_REDIRECTS} redirects (the last to {redact(last)[:200]}): a redirect loop"
    except httpx.ConnectError as exc:
        text = str(exc)
        r.error = "tls" if "SSL" in text or "certificate" in text.lower() else "connect"
        r.detail = redact(text)[:300] or type(exc).__name__
    except (httpx.HTTPError, OSError) as exc:
        r.error, r.detail = "protocol", f"{type(exc).__name__}: {redact(str(exc))[:300]}"
    except (ValueError, UnicodeError) as exc:  # a header httpx refuses to send; its text may quote the header
        r.error, r.detail = "protocol", f"{type(exc).__name__}: the request could not be sent"
    r.ms = int((time.monotonic() - t0) * 1000)
    return r


def admin_headers(ctx) -> dict | None:
    key = ctx.inputs.text("admin_key")
    if not key:
        return None
    return {"Authorization": f"Convex {key.strip()}"}


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def _host_port(u: ConvexUrl) -> tuple[str, int, bool]:
    parts = urlsplit(u.origin)
    https = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if https else 80), https


def _suggest_api_from_site(u: ConvexUrl) -> str:
    host, port, https = _host_port(u)
    if host.endswith(".convex.site"):
        return u.origin.replace(".convex.site", ".convex.cloud")
    if port == 3211:
        return u.origin.replace(":3211", ":3210")
    return u.origin


def derived_site_url(ctx) -> tuple[str, str]:
    """(site URL, where it came from): flag/env, the deployment's canonical
    URL, or derived (x.convex.cloud → x.convex.site; self-hosted → <origin>/http)."""
    iv = ctx.inputs.get("convex_site_url")
    if iv:
        try:
            return parse_convex_url(iv.text()).url, iv.source
        except UrlError:
            return "", iv.source
    canon = ctx.facts.get("convex_canonical_site_url")
    if canon and ctx.facts.get("convex_origins_ok"):
        return canon.rstrip("/"), "the deployment's canonical site URL"
    u = convex_url(ctx)
    if u is None:
        return "", ""
    host, _, _ = _host_port(u)
    if host.endswith(".convex.cloud"):
        return u.origin.replace(".convex.cloud", ".convex.site"), "derived from the .convex.cloud URL"
    if deployment_kind(ctx) == "cloud":
        return "", ""  # a custom domain: the site origin cannot be guessed
    return u.origin + "/http", "derived: <origin>/http"


# ---------------------------------------------------------------- the deployment URL


@probe("convex.url")
async def url(ctx) -> Outcome:
    iv = ctx.inputs.get("convex_url")
    if iv is None:
        return Outcome(
            "missing",
            SKIPPED,
            "no Convex URL (pass --convex-url or set CONVEX_URL); the Convex checks do not run",
            {"searched": searched("convex_url")},
        )
    evidence = {"url": iv.display, "source": iv.source}
    try:
        u = parse_convex_url(iv.text())
    except UrlError as exc:
        raw = iv.text()
        hint = ""
        if raw[:1] in ("'", '"'):
            hint = " The value is wrapped in quotes: remove them."
        return Outcome(
            "invalid",
            FAIL,
            str(exc),
            {**evidence, "problem": f"The Convex URL from {iv.source} does not parse: {exc}.{hint}", "suggested_url": exc.hint or ""},
        )
    host, port, https = _host_port(u)
    site = ctx.inputs.get("convex_site_url")
    if u.kind == "cloud_site":
        sugg = _suggest_api_from_site(u)
        return Outcome(
            "site_origin",
            FAIL,
            f"{u.origin} is the HTTP actions origin, not the API origin",
            {
                **evidence,
                "problem": f"{u.origin} ends with .convex.site, which serves HTTP actions; the Convex client, the CLI and "
                f"every check of the deployment need the API origin {sugg}.",
                "suggested_url": sugg,
            },
        )
    if site is not None:
        try:
            su = parse_convex_url(site.text())
        except UrlError as exc:
            return Outcome("invalid", FAIL, f"site URL: {exc}", {**evidence, "problem": f"The site URL from {site.source} does not parse: {exc}", "suggested_url": ""})
        if su.kind == "cloud":
            sugg = su.origin.replace(".convex.cloud", ".convex.site")
            return Outcome(
                "swapped",
                FAIL,
                f"the site URL {su.origin} is the API origin",
                {
                    **evidence,
                    "site_url": site.display,
                    "problem": f"The HTTP actions URL from {site.source} ends with .convex.cloud, the API origin; HTTP actions answer on {sugg}.",
                    "suggested_url": u.url,
                },
            )
    if u.path and u.path.rstrip("/") in ("/http", "/api"):
        return Outcome(
            "has_path",
            FAIL,
            f"the URL has the path {u.path}",
            {
                **evidence,
                "problem": f"The deployment URL ends with {u.path}. The Convex CLI and client drop any path "
                f"(they build URLs from the origin), and {u.path} is not where the API lives; use the origin {u.origin}.",
                "suggested_url": u.origin,
            },
        )
    kind = "cloud" if u.kind == "cloud" else "self_hosted"
    hc = classify_host(host)
    facts = {"convex_kind": kind, "convex_origin": u.origin, "convex_host": host, "convex_port": port}
    if hc.kind == "fly_public" and hc.app:
        facts["convex_app"] = hc.app
    label = "Convex Cloud" if kind == "cloud" else "self-hosted (or a custom domain)"
    return Outcome(kind, PASS, f"{u.origin}: {label}", {**evidence, "origin": u.origin, "kind": kind}, facts)


@probe("convex.dns")
async def dns(ctx) -> Outcome:
    u = convex_url(ctx)
    host, port, _ = _host_port(u)
    t0 = time.monotonic()
    r = await resolve(host, port, ctx.timeout)
    ms = int((time.monotonic() - t0) * 1000)
    ev = {"host": host, "dns_ms": ms}
    if r.status == "resolved":
        return Outcome("resolved", PASS, f"{host} → {', '.join(r.addresses[:3])} ({ms} ms)", {**ev, "addresses": r.addresses}, {"convex_addresses": r.addresses})
    return Outcome(
        "failed", FAIL, f"{host}: {r.detail}", {**ev, "layer": "DNS", "target": host, "detail": r.detail or r.status, "dns_status": r.status}
    )


@probe("convex.tcp")
async def tcp(ctx) -> Outcome:
    u = convex_url(ctx)
    host, port, https = _host_port(u)
    attempts = []
    deadline = time.monotonic() + ctx.timeout
    for addr in ctx.facts.get("convex_addresses") or [host]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        c = await tcp_connect(addr, port, left)
        attempts.append({"address": addr, "port": port, "result": c.status, "ms": c.elapsed_ms, "detail": c.detail})
        if c.status == "ok":
            return Outcome(
                "ok_tls" if https else "ok_plain",
                PASS,
                f"connected to {addr}:{port} in {c.elapsed_ms} ms",
                {"attempts": attempts, "tcp_ms": c.elapsed_ms},
                {"convex_address": addr},
            )
    last = attempts[-1] if attempts else {"detail": "no address to try", "result": "error"}
    return Outcome(
        "failed",
        FAIL,
        f"{host}:{port}: {last['detail']}",
        {"attempts": attempts, "layer": "TCP", "target": f"{host}:{port}", "detail": f"{last['result']}: {last['detail']}"},
    )


@probe("convex.tls")
async def tls(ctx) -> Outcome:
    u = convex_url(ctx)
    host, port, _ = _host_port(u)
    addr = ctx.facts.get("convex_address") or host
    c = await tcp_connect(addr, port, ctx.timeout, keep=True)
    ev = {"target": f"{host}:{port}", "layer": "TLS"}
    if c.status != "ok":
        return Outcome("failed", FAIL, c.detail, {**ev, "detail": c.detail})
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(c.writer.start_tls(tls_context(), server_hostname=host), ctx.timeout)
    except ssl.SSLCertVerificationError as exc:
        return Outcome(
            "untrusted", FAIL, f"certificate not trusted: {exc.verify_message}", {**ev, "detail": f"certificate verify failed: {exc.verify_message}"}
        )
    except asyncio.TimeoutError:
        return Outcome("failed", FAIL, "TLS handshake timed out", {**ev, "detail": f"no TLS handshake within {ctx.timeout:g} s"})
    except (ssl.SSLError, OSError) as exc:
        return Outcome("failed", FAIL, f"TLS handshake failed: {exc}", {**ev, "detail": f"{type(exc).__name__}: {exc}"[:300]})
    finally:
        c.close()
    ms = int((time.monotonic() - t0) * 1000)
    return Outcome("ok", PASS, f"TLS handshake with {host} in {ms} ms, certificate trusted", {"target": f"{host}:{port}", "tls_ms": ms})


@probe("convex.http")
async def http(ctx) -> Outcome:
    u = convex_url(ctx)
    root = await request(ctx, "GET", u.origin + "/")
    ev = {"url": u.origin + "/", "status": root.status, "http_ms": root.ms}
    if root.error:
        return Outcome("failed", FAIL, root.detail, {**ev, "layer": "HTTP", "target": u.origin, "detail": root.detail})
    body = root.body.strip()
    if root.status in (502, 503, 504):
        # a proxy in front (Fly's) answers, the backend behind it does not
        server = root.headers.get("server", "")
        detail = f"HTTP {root.status} from the proxy in front{' (' + server + ')' if server else ''}: the backend behind it is not answering"
        return Outcome("failed", FAIL, detail, {**ev, "layer": "HTTP", "target": u.origin, "detail": detail, "body": root.brief(120)})
    if root.status == 404 and body in (NO_ROUTE, NO_HTTP_ACTIONS):
        sugg = _suggest_api_from_site(u)
        return Outcome(
            "site_origin",
            FAIL,
            f"{u.origin} answers like the HTTP actions proxy ({body!r})",
            {
                **ev,
                "body": body,
                "problem": f"{u.origin} answered GET / with the HTTP-action router's 404 ({body!r}): this is the HTTP actions "
                f"origin (port 3211 or .convex.site), not the deployment's API origin.",
                "suggested_url": sugg,
            },
        )
    if root.status != 200 or body != RUNNING:
        return Outcome(
            "not_convex",
            FAIL,
            f"GET / answered {root.status}, not Convex's running message",
            {
                **ev,
                "body": root.brief(),
                "server": root.headers.get("server", ""),
                "content_type": root.headers.get("content-type", ""),
                "expected": RUNNING,
            },
        )
    version, name = await asyncio.gather(request(ctx, "GET", u.origin + "/version"), request(ctx, "GET", u.origin + "/instance_name"))
    ev.update(
        version=version.body.strip()[:80] if version.got(200) else version.answer,
        instance_name=name.body.strip()[:80] if name.got(200) else name.answer,
    )
    if root.headers.get("final_url"):
        ev["redirected_to"] = root.headers["final_url"]
    facts = {}
    if name.got(200):
        facts["convex_instance_name"] = name.body.strip()[:80]
    if version.got(200):
        facts["convex_version"] = version.body.strip()[:80]
    return Outcome(
        "convex", PASS, f"Convex is running (version {ev['version']}, instance {ev['instance_name']}) in {root.ms} ms", ev, facts
    )


# ---------------------------------------------------------------- admin checks


@probe("convex.admin_key")
async def admin_key(ctx) -> Outcome:
    headers = admin_headers(ctx)
    if headers is None:
        return Outcome("no_key", SKIPPED, "no admin or deploy key (--admin-key, CONVEX_SELF_HOSTED_ADMIN_KEY, CONVEX_DEPLOY_KEY): admin checks skipped")
    u = convex_url(ctx)
    iv = ctx.inputs.get("admin_key")
    key = iv.text().strip()
    ev = {"url": u.origin + "/api/check_admin_key", "key_source": iv.source}
    if not re.fullmatch(r"[\x21-\x7e]+", key):
        # a pasted line break, an inner space or a non-ASCII character: no backend accepts it
        ev.update(status="not sent", code="MalformedKey", message="the key contains whitespace or non-ASCII characters", form="malformed locally")
        if key[:7].lower() == "convex ":
            # the backend strips `Convex ` (any case) from the header itself (local_backend/src/authentication.rs:169)
            ev["form"] = "the value starts with the header's `Convex ` prefix: give the key alone"
        return Outcome("rejected", FAIL, "the key has spaces, line breaks or non-ASCII characters: not sent", ev)
    r = await request(ctx, "GET", u.origin + "/api/check_admin_key", headers)
    ev["status"] = r.status
    if r.error:
        return Outcome("error", FAIL, r.detail, {**ev, "layer": "HTTP (admin API)", "target": ev["url"], "detail": r.detail})
    data = r.json if isinstance(r.json, dict) else {}
    code = str(data.get("code", ""))
    ev["code"] = code
    ev["message"] = redact(str(data.get("message", "")))[:200]
    # §1.7: <instance_name>|<hex>; compare the prefix with /instance_name
    prefix = key.split("|", 1)[0] if "|" in key else ""
    inst = ctx.facts.get("convex_instance_name", "")
    if prefix and inst and ":" not in prefix and prefix != inst:
        ev["key_instance"] = prefix
        ev["deployment_instance"] = inst
    if key[:1] in ("'", '"') or key[-1:] in ("'", '"'):
        ev["key_quoted"] = "the key value starts or ends with a quote character"
    if r.status == 200 and data.get("success") is not True:  # §3.2: 200 {"success":true,...}
        detail = "/api/check_admin_key answered HTTP 200 without Convex's JSON"
        return Outcome("error", FAIL, detail, {**ev, "body": r.brief(), "layer": "HTTP (admin API)", "target": ev["url"], "detail": detail})
    if r.status == 200:
        kind = await _deployment_kind(ctx, u, headers)
        facts = {"convex_admin_ok": True}
        if kind:
            facts["convex_kind"] = kind
            ev["deployment_kind"] = kind
        ro = data.get("isReadOnly")
        return Outcome("ok", PASS, "admin key accepted" + (" (read-only)" if ro else "") + (f"; deployment kind {kind}" if kind else ""), ev, facts)
    if r.status in (400, 401, 403):
        form = {
            401: "rejected (BadAdminKey): wrong instance secret or another instance's key",
            400: "malformed (the Authorization header or the key's format)",
            403: "not accepted as a deploy key",
        }[r.status]
        return Outcome("rejected", FAIL, f"HTTP {r.status} {code}: key {form}", {**ev, "form": form})
    detail = f"unexpected HTTP {r.status} from /api/check_admin_key"
    return Outcome("error", FAIL, detail, {**ev, "body": r.brief(), "layer": "HTTP (admin API)", "target": ev["url"], "detail": detail})


async def _deployment_kind(ctx, u: ConvexUrl, headers: dict) -> str:
    """§3.2 /api/v1/deployment_info: {"kind":"selfHosted"} or {"kind":"cloud",...}."""
    r = await request(ctx, "GET", u.origin + "/api/v1/deployment_info", headers)
    data = r.json if r.status == 200 and isinstance(r.json, dict) else {}
    return {"cloud": "cloud", "selfHosted": "self_hosted"}.get(str(data.get("kind", "")), "")


def _norm(url: str) -> str:
    return url.strip().rstrip("/").lower()


@probe("convex.origins")
async def origins(ctx) -> Outcome:
    headers = admin_headers(ctx)
    if headers is None or not ctx.facts.get("convex_admin_ok"):
        return Outcome("skipped", SKIPPED, "needs a working admin key")
    if deployment_kind(ctx) == "cloud":
        return Outcome("cloud", SKIPPED, "Convex Cloud sets its own origins")
    u = convex_url(ctx)
    r = await request(ctx, "GET", u.origin + "/api/v1/get_canonical_urls", headers)
    ev = {"url": u.origin + "/api/v1/get_canonical_urls", "status": r.status, "url_in_use": u.origin}
    data = r.json if r.status == 200 and isinstance(r.json, dict) else None
    if data is None and r.status == 404:
        data = await _origins_by_query(ctx, u, headers)
        ev["url"] = u.origin + "/api/query (_system/cli/convexUrl:cloudUrl, _system/frontend/convexSiteUrl)"
    if data is None:
        older = "" if r.error else " (an older backend?)"
        return Outcome("unknown", WARN, f"/api/v1/get_canonical_urls: {r.answer}{older}", {**ev, "body": r.brief()})
    cloud = str(data.get("convexCloudUrl") or "")
    site = str(data.get("convexSiteUrl") or "")
    ev.update(convex_cloud_origin=cloud or "(empty)", convex_site_origin=site or "(empty)")
    site_iv = ctx.inputs.get("convex_site_url")
    expected_site = site_iv.text() if site_iv else u.origin + "/http"
    ev["expected_cloud_origin"] = u.origin
    ev["expected_site_origin"] = expected_site.rstrip("/")
    problems = []
    lacks_prefix = False  # the site URL given is the backend's own site origin without /http
    if not cloud:
        problems.append("CONVEX_CLOUD_ORIGIN is empty")
    elif _norm(cloud) != _norm(u.origin):
        problems.append(f"CONVEX_CLOUD_ORIGIN is {cloud}, but the backend is reached at {u.origin}")
    if not site:
        problems.append("CONVEX_SITE_ORIGIN is empty")
    elif site_iv and _norm(site) == _norm(expected_site) + "/http":
        lacks_prefix = True
    elif _norm(site) != _norm(expected_site):
        site_host = urlsplit(site).hostname or ""
        loop_mismatch = classify_host(site_host).kind == "loopback" and classify_host(_host_port(u)[0]).kind != "loopback"
        # §2: behind Fly only 3210 is public, so a :3211 site origin on a fly.dev host is unreachable
        fly_3211 = classify_host(site_host).kind == "fly_public" and urlsplit(site).port == 3211
        if site_iv or loop_mismatch or fly_3211 or site_host != _host_port(u)[0]:
            problems.append(f"CONVEX_SITE_ORIGIN is {site}, expected {expected_site.rstrip('/')}")
    if problems:
        ev["problems"] = problems
        return Outcome("mismatch", FAIL, "; ".join(problems), ev)
    if lacks_prefix:
        given = expected_site.rstrip("/")
        ev.update(site_url=given, site_source=site_iv.source, canonical_site_origin=site, suggested_site_url=site.rstrip("/"))
        return Outcome(
            "site_missing_prefix",
            FAIL,
            f"the site URL {given} lacks /http: the backend's CONVEX_SITE_ORIGIN is {site}",
            ev,
            {"convex_canonical_site_url": site},
        )
    return Outcome("ok", PASS, f"origins match: {cloud}, {site}", ev, {"convex_canonical_site_url": site, "convex_origins_ok": True})


async def _origins_by_query(ctx, u: ConvexUrl, headers: dict) -> dict | None:
    """Older backends without get_canonical_urls: the system queries that return
    process.env.CONVEX_CLOUD_URL / CONVEX_SITE_URL (§3.2, §7 recipe 4)."""
    out = {}
    for key, path in (("convexCloudUrl", "_system/cli/convexUrl:cloudUrl"), ("convexSiteUrl", "_system/frontend/convexSiteUrl")):
        r = await request(ctx, "POST", u.origin + "/api/query", headers, json_body={"path": path, "args": {}, "format": "json"})
        data = r.json if r.status in (200, UDF_FAILED) and isinstance(r.json, dict) else None
        if not data or data.get("status") != "success":
            return None
        out[key] = data.get("value") or ""
    return out


@probe("convex.env")
async def env(ctx) -> Outcome:
    """The Postgres URL the deployment's functions use, and where its host is."""
    headers = admin_headers(ctx)
    kind = deployment_kind(ctx)
    found: list[tuple[str, Secret]] = []
    source = ""
    if headers is not None and ctx.facts.get("convex_admin_ok"):
        u = convex_url(ctx)
        r = await request(ctx, "GET", u.origin + "/api/v1/list_environment_variables", headers)
        data = r.json if r.status == 200 and isinstance(r.json, dict) else None
        if data is None:
            return Outcome("unknown", WARN, f"list_environment_variables: {r.answer}", {"status": r.status, "detail": r.answer})
        variables = data.get("environmentVariables") or {}
        if isinstance(variables, dict):
            # wrap every value at once: they are secrets from here on
            secrets = {str(k): Secret(str(v)) for k, v in variables.items()}
            for name in PG_VARS:
                if name in secrets and secrets[name].reveal().split("://")[0] in ("postgres", "postgresql"):
                    found.append((name, secrets[name]))
            for name, v in secrets.items():
                if name not in PG_VARS and v.reveal().startswith(("postgres://", "postgresql://")):
                    found.append((name, v))
            source = "the deployment's environment variables (admin API)"
            ctx.facts["convex_env_names"] = ", ".join(sorted(secrets)) or "(none)"
    elif kind == "cloud" and ctx.pg_url is not None:
        iv = ctx.inputs.get("database_url")
        found.append((iv.source.split(":")[-1] if ":" in iv.source else "DATABASE_URL", Secret(iv.text())))
        source = f"{iv.source} (taken as the URL your Convex functions use)"
    if not found:
        if not source:
            return Outcome("skipped", SKIPPED, "needs an admin key (or --database-url for a Convex Cloud deployment)")
        return Outcome("none", PASS, "no Postgres URL among the deployment's variables", {"variables": ctx.facts.get("convex_env_names", "")})
    var, value = found[0]
    try:
        pu = parse_pg_url(value.reveal())
    except UrlError as exc:
        return Outcome("unparsable", WARN, f"{var} does not parse: {exc}", {"variable": var, "problem": str(exc), "source": source})
    hc = classify_host(pu.host)
    ev = {
        "variable": var,
        "source": source,
        "pg_host": pu.host,
        "pg_port": pu.port,
        "host_kind": hc.kind,
        "host_flavour": hc.flavour,
        "sslmode": pu.sslmode,
        "deployment_kind": kind,
        "convex_pg_url": pu.masked(),
    }
    facts = {"convex_pg_var": var, "convex_pg_host": pu.host, "convex_pg_port": pu.port, "convex_pg_db": pu.dbname, "convex_pg_user": pu.user}
    if hc.app:
        ev["pg_app"] = hc.app
        facts["convex_pg_app"] = hc.app
    if kind == "cloud" and hc.kind == "fly_private":
        return Outcome("cloud_private", FAIL, f"{var} points at {pu.host}: Fly-private, unreachable from Convex Cloud", ev, facts)
    return Outcome("ok", PASS, f"{var} → {pu.host}:{pu.port} ({hc.kind.replace('_', ' ')})", ev, facts)


@probe("convex.metrics")
async def metrics(ctx) -> Outcome:
    if deployment_kind(ctx) == "cloud":
        return Outcome("not_applicable", SKIPPED, "Convex Cloud")
    u = convex_url(ctx)
    urls = [u.origin + "/metrics"]
    proxy = site_proxy_origin(ctx)
    if proxy:  # the 3211 site proxy answers /metrics itself (convex-backend crates/common/src/http/mod.rs meta_routes)
        urls.append(proxy + "/metrics")
    answers = await asyncio.gather(*(request(ctx, "GET", x) for x in urls))
    r = answers[0]
    ev = {"url": urls[0], "status": r.status}
    if proxy:
        ev.update(site_proxy_url=urls[1], site_proxy_status=answers[1].status)
    for x, a in zip(urls, answers):
        # Prometheus text exposition: '# HELP' / '# TYPE' lines
        if a.status == 200 and ("# TYPE " in a.body or "# HELP " in a.body):
            where = "" if x == urls[0] else " on the HTTP actions origin"
            return Outcome(
                "public", WARN, f"/metrics is public{where} (Prometheus text)", {**ev, "url": x, "sample": redact(a.body.splitlines()[0])[:120]}
            )
    if r.error:  # no complete answer says nothing either way
        return Outcome("unknown", WARN, f"/metrics: {r.detail}", {**ev, "detail": r.detail})
    code = (r.json or {}).get("code", "") if isinstance(r.json, dict) else ""
    return Outcome("private", PASS, f"/metrics not public (HTTP {r.status}{' ' + code if code else ''})", {**ev, "code": code})


# the routes a self-hosted backend's site proxy (port 3211) answers itself instead of
# forwarding them to /http (crates/local_backend/src/proxy.rs: a ConvexHttpService, whose
# meta_routes in crates/common/src/http/mod.rs are /version and /metrics)
PROXY_META_ROUTES = ("/version", "/metrics")


def site_proxy_origin(ctx) -> str:
    """The self-hosted site URL when it is the site proxy's own origin (not
    `<origin>/http` and not Convex Cloud's .convex.site), else ""."""
    if deployment_kind(ctx) == "cloud":
        return ""
    site_url, _ = derived_site_url(ctx)
    if not site_url:
        return ""
    parts = urlsplit(site_url)
    if parts.path.rstrip("/") or (parts.hostname or "").endswith(".convex.site"):
        return ""
    return f"{parts.scheme}://{parts.netloc}"


# ---------------------------------------------------------------- HTTP actions


def classify_route_response(r: Http) -> str:
    """§3.3/§3.4: what a response on the site origin means."""
    body = r.body.strip()
    if r.error:
        return "unreachable"
    if r.status == 404 and body == NO_ROUTE:
        return "no_route"
    if r.status == 404 and body == NO_HTTP_ACTIONS:
        return "not_deployed"
    if r.status == 404 and not body:
        return "empty_404"
    data = r.json
    if r.status in (200, UDF_FAILED) and isinstance(data, dict) and data.get("status") == "error":
        return "function_error"
    if r.status is not None and r.status >= 500:
        return "failed"
    return "answered"


METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")  # the router's methods (§3.4)


def parse_route(text: str) -> tuple[str, str]:
    """'/path' or 'POST /path' -> (method, path)."""
    parts = text.strip().split(None, 1)
    method = "GET"
    if len(parts) == 2 and parts[0].upper() in METHODS:
        method, text = parts[0].upper(), parts[1].strip()
    return method, text if text.startswith("/") else "/" + text


@probe("convex.site")
async def site(ctx) -> Outcome:
    site_url, site_source = derived_site_url(ctx)
    if not site_url:
        return Outcome("unknown_site", SKIPPED, "the HTTP actions origin is unknown (pass --convex-site-url)")
    route_iv = ctx.inputs.get("http_action")
    method, route = parse_route(route_iv.text() if route_iv else DEFAULT_ROUTE)
    asked = route_iv is not None
    target = _join(site_url, route)
    facts = {"convex_site_url": site_url}
    if asked and method == "GET" and route.rstrip("/") in PROXY_META_ROUTES and site_proxy_origin(ctx):
        api = convex_url(ctx).origin + "/http"
        return Outcome(
            "proxy_meta_route",
            FAIL,
            f"GET {route} on the site proxy is the proxy's own {route}, never an HTTP action",
            {
                "site_url": site_url, "site_source": site_source, "route": route, "method": method, "url": target,
                "shadowed_by": f"the site proxy's own {route}",
                "hint": f"The site proxy answers GET {route} itself; an action routed at {route} is only reachable as {api}{route}, or route it at another path.",
            },
            facts,
        )  # fmt: skip
    r = await request(ctx, method, target)
    kind = classify_route_response(r)
    ev = {"site_url": site_url, "site_source": site_source, "route": route, "method": method, "url": target, "status": r.status, "ms": r.ms}
    if kind == "unreachable":
        return Outcome("unreachable", FAIL, r.detail, {**ev, "layer": "HTTP (site origin)", "target": site_url, "detail": r.detail})
    if kind == "empty_404":
        # §3.4, §6 P18: behind Fly only 3210 is public; HTTP actions live under /http
        if not site_url.rstrip("/").endswith("/http"):
            alt = _join(site_url + "/http", route)
            r2 = await request(ctx, method, alt)
            k2 = classify_route_response(r2)
            if k2 in ("no_route", "not_deployed", "answered", "failed", "function_error"):
                return Outcome(
                    "missing_prefix",
                    FAIL,
                    f"empty 404 at {site_url}, but {site_url}/http answers ({r2.status})",
                    {**ev, "prefixed_url": alt, "prefixed_status": r2.status, "prefixed_body": r2.brief(80), "suggested_site_url": site_url.rstrip("/") + "/http"},
                    facts,
                )
        return Outcome("not_convex", FAIL, f"empty 404 at {target}: not a Convex HTTP actions origin", {**ev, "body": "", "url": target})
    if kind == "not_deployed":
        status = FAIL if asked else WARN
        return Outcome(
            "not_deployed" if asked else "not_deployed_unasked",
            status,
            f"404 {NO_HTTP_ACTIONS!r}" + ("" if asked else " (no route asked for)"),
            {**ev, "body": NO_HTTP_ACTIONS},
            facts,
        )
    if kind == "no_route":
        if asked:
            return Outcome("route_not_found", FAIL, f"{method} {route}: 404 {NO_ROUTE!r}", {**ev, "body": NO_ROUTE}, facts)
        return Outcome("router_ok", PASS, f"HTTP actions deployed (unknown route → {NO_ROUTE!r}) in {r.ms} ms", {**ev, "body": NO_ROUTE}, facts)
    if kind in ("failed", "function_error"):
        data = r.json if isinstance(r.json, dict) else {}
        message = data.get("errorMessage") or data.get("code") or r.body.strip()
        return Outcome(
            "failed", FAIL, f"{method} {route}: HTTP {r.status}: {redact(str(message))[:160]}", {**ev, "body": r.brief(500), "error": redact(str(message))[:500]}, facts
        )
    return Outcome("ok", PASS, f"{method} {route}: HTTP {r.status} in {r.ms} ms", {**ev, "body": r.brief(120)}, facts)


# ---------------------------------------------------------------- Convex's own view of Postgres


def probe_token(ctx) -> Secret | None:
    """FCP_DOCTOR_TOKEN from the environment, .env.local or .env (what `convex-probe init` wrote)."""
    v = ctx.env.get(PROBE_TOKEN_VAR)
    if not v:
        for fname in (".env.local", ".env"):
            v = ctx.inputs.dotenv.get(fname, {}).get(PROBE_TOKEN_VAR)
            if v:
                break
    return Secret(v) if v else None


def probe_module_present(ctx) -> bool:
    return (Path(ctx.inputs.cwd) / "convex" / "fcpDoctorHttp.ts").is_file()


# Node and SQLSTATE codes as the probe module reports them -> outcome names
CODE_OUTCOMES = {
    "ENOTFOUND": "dns_not_found",
    "EAI_AGAIN": "dns_not_found",
    "ECONNREFUSED": "refused",
    "ETIMEDOUT": "timeout",
    "TIMEOUT": "timeout",
    "EHOSTUNREACH": "timeout",
    "ENETUNREACH": "timeout",
    "NO_TLS": "ssl_required_unsupported",
    "SELF_SIGNED_CERT_IN_CHAIN": "ssl_verify_failed",
    "DEPTH_ZERO_SELF_SIGNED_CERT": "ssl_verify_failed",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE": "ssl_verify_failed",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY": "ssl_verify_failed",
    "ERR_TLS_CERT_ALTNAME_INVALID": "ssl_verify_failed",
    "CERT_HAS_EXPIRED": "ssl_verify_failed",
    "28P01": "auth_failed",
    "28000": "hba_rejected",
    "3D000": "database_missing",
    "53300": "too_many_connections",
    "57P03": "server_starting",
    "READ_ONLY": "read_only",
    "IN_RECOVERY": "replica",
    "NO_URL": "no_url",
}


def interpret_probe_result(data: dict, kind: str) -> tuple[str, dict]:
    """The probe module's JSON -> (outcome, evidence). Pure, so it is tested directly."""
    err = data.get("error") or {}
    code = str(err.get("code") or "")
    failed_at = str(data.get("failedAt") or "")
    host = str(data.get("host") or "")
    ev = {
        "seen_from": "inside Convex (fcp-doctor probe module)",
        "host": host,
        "port": data.get("port") or "",
        "user": data.get("user") or "",
        "db": data.get("database") or "",
        "variable": data.get("variable") or "",
        "failed_at": failed_at or "none",
        "code": code,
        "error": redact(str(err.get("message") or ""))[:300],
        "latency_ms": data.get("latencyMs") if data.get("latencyMs") is not None else "",
        "runtime": redact(str(data.get("runtime") or ""))[:80],
    }
    steps = data.get("steps")
    if isinstance(steps, dict):
        ev["steps"] = {k: {kk: vv for kk, vv in v.items() if kk in ("ok", "ms", "code", "offered", "addresses")} for k, v in steps.items() if isinstance(v, dict)}
    if data.get("ok"):
        return "ok", ev
    outcome = CODE_OUTCOMES.get(code, "")
    if not outcome and failed_at == "tls":
        outcome = "ssl_verify_failed" if "certificate" in ev["error"].lower() else "ssl_required_unsupported"
    if not outcome and failed_at in ("dns", "tcp"):
        outcome = "timeout"
    hc = classify_host(host) if host else None
    if hc and hc.kind == "fly_private" and kind == "cloud" and outcome in ("dns_not_found", "timeout", "refused"):
        ev.update(pg_host=host, host_flavour=hc.flavour, pg_app=hc.app, source="the fcp-doctor probe module, run inside Convex")
        return "cloud_private", ev
    return outcome or "error", ev


@probe("convex.pg_from_convex")
async def pg_from_convex(ctx) -> Outcome:
    token = probe_token(ctx)
    present = probe_module_present(ctx)
    if token is None:
        note = (
            "convex/fcpDoctorHttp.ts is here, but FCP_DOCTOR_TOKEN is not set locally"
            if present
            else "no probe module (run `fcp-doctor convex-probe init` to test Postgres from inside Convex)"
        )
        return Outcome("not_configured", SKIPPED, note, {"module_present": present})
    site_url, site_source = derived_site_url(ctx)
    if not site_url:
        return Outcome("not_configured", SKIPPED, "the HTTP actions origin is unknown (pass --convex-site-url)")
    target = _join(site_url, PROBE_ROUTE)
    ev = {"url": target, "route": PROBE_ROUTE, "method": "GET", "site_url": site_url}
    # the action itself bounds each of its steps; allow it a cold start on top
    r = await request(ctx, "GET", target, {"Authorization": f"Bearer {token.reveal()}"}, timeout=ctx.timeout * 2)
    ev["status"] = r.status
    kind = classify_route_response(r)
    if kind == "unreachable":
        return Outcome("unreachable", FAIL, r.detail, {**ev, "layer": "HTTP (site origin)", "target": site_url, "detail": r.detail})
    if kind in ("no_route", "not_deployed"):
        body = NO_ROUTE if kind == "no_route" else NO_HTTP_ACTIONS
        return Outcome(
            "route_missing", FAIL, f"the probe route is not deployed: {body!r}", {**ev, "body": body, "hint": "npx convex deploy (or npx convex dev) after `fcp-doctor convex-probe init`"}
        )
    if r.status == 401:
        return Outcome(
            "token_rejected",
            FAIL,
            "the probe route rejected the token: set the same FCP_DOCTOR_TOKEN on the deployment (npx convex env set)",
            {**ev, "body": r.brief(120)},
        )
    if kind in ("failed", "function_error"):
        data = r.json if isinstance(r.json, dict) else {}
        message = data.get("errorMessage") or data.get("code") or r.body.strip()
        return Outcome("failed", FAIL, f"the probe action failed: HTTP {r.status}", {**ev, "body": r.brief(500), "error": redact(str(message))[:500]})
    data = r.json
    if r.status != 200 or not isinstance(data, dict):
        # not the probe module's JSON: something else answers on the site origin
        return Outcome("not_convex", FAIL, f"{PROBE_ROUTE} answered HTTP {r.status} without the probe module's JSON", {**ev, "body": r.brief(200)})
    outcome, pev = interpret_probe_result(data, deployment_kind(ctx))
    ev.update(pev)
    if outcome == "ok":
        lat = data.get("latencyMs")
        return Outcome("ok", PASS, f"from Convex: {ev['host']}:{ev['port']} reachable, logged in, SELECT 1 in {lat} ms", ev)
    return Outcome(outcome, FAIL, f"from Convex: {ev['failed_at']} failed ({ev['code'] or 'no code'}): {ev['error'][:120]}", ev)


__all__ = ["RUNNING", "NO_ROUTE", "NO_HTTP_ACTIONS", "classify_route_response", "interpret_probe_result", "request"]

"""What a walk knows: the inputs, the facts probes found, and live resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .causes import Names
from .inputs import Inputs
from .urls import HostClass, PgUrl, UrlError, classify_host, parse_pg_url
from .secret import redact_obj

DEFAULT_TIMEOUT = 5.0


@dataclass
class Context:
    inputs: Inputs
    timeout: float = DEFAULT_TIMEOUT
    facts: dict[str, Any] = field(default_factory=dict)
    # live objects that are never recorded: open connections, a running `fly proxy`
    resources: dict[str, Any] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda message: None
    replay: bool = False
    # values worked out from the inputs (the parsed Postgres URL), kept until an input they read changes
    _derived: dict[str, tuple[tuple[str, ...], Any]] = field(default_factory=dict, repr=False)

    @property
    def env(self):
        return self.inputs.env

    # ------------------------------------------------------------ derived values
    def derived(self, name: str, reads: tuple[str, ...], compute: Callable[[], Any]) -> Any:
        """`compute()`, worked out once and kept until one of the inputs `reads` changes."""
        if name not in self._derived:
            self._derived[name] = (reads, compute())
        return self._derived[name][1]

    def keep(self, name: str, reads: tuple[str, ...], value: Any) -> None:
        """Set a derived value directly (a replay keeps the recorded URL error)."""
        self._derived[name] = (reads, value)

    def set_input(self, key: str, value: str, source: str) -> None:
        """Replace an input; every derived value that read it is worked out again."""
        self.inputs.set(key, value, source)
        for name in [n for n, (reads, _) in self._derived.items() if key in reads]:
            del self._derived[name]

    # ------------------------------------------------------------ Postgres URL
    @property
    def _pg(self) -> tuple[PgUrl | None, UrlError | None]:
        return self.derived("pg_url", ("database_url",), self._parse_pg)

    def _parse_pg(self) -> tuple[PgUrl | None, UrlError | None]:
        text = self.inputs.text("database_url")
        if not text:
            return None, None
        try:
            return parse_pg_url(text), None
        except UrlError as exc:
            return None, exc

    def keep_pg_url_error(self, error: UrlError) -> None:
        self.keep("pg_url", ("database_url",), (None, error))

    @property
    def pg_url(self) -> PgUrl | None:
        return self._pg[0]

    @property
    def pg_url_error(self) -> UrlError | None:
        return self._pg[1]

    @property
    def host_class(self) -> HostClass | None:
        return classify_host(self.pg_url.host) if self.pg_url else None

    def pg_target(self) -> tuple[str, int]:
        """Where to connect: the URL's host and port, unless a probe rerouted
        it (a `fly proxy` local port, a 6PN address resolved on the private DNS)."""
        url = self.pg_url
        host = self.facts.get("pg_target_host") or (url.host if url else "")
        port = int(self.facts.get("pg_target_port") or (url.port if url else 5432))
        return host, port

    # ------------------------------------------------------------ names for fixes
    @property
    def app(self) -> str:
        return self.inputs.text("app") or ""

    @property
    def pg_app(self) -> str:
        explicit = self.inputs.text("pg_app")
        if explicit:
            return explicit
        hc = self.host_class
        return hc.app if hc and hc.app else ""

    def names(self) -> Names:
        # facts are observations (outside text): masked; the URL's parts below are names, not secrets
        n = Names(redact_obj({k: v for k, v in self.facts.items() if isinstance(v, (str, int, float)) and not isinstance(v, bool)}))
        if self.app:
            n["app"] = self.app
        if self.pg_app:
            n["pg_app"] = self.pg_app
        url = self.pg_url
        if url:
            n.update(
                host=url.host,
                port=url.port,
                db=url.dbname or url.user or "postgres",
                user=url.user or "postgres",
                sslmode=url.sslmode,
                url=url.masked(),
            )
        src = self.inputs.get("database_url")
        var = src.source.split(":", 1)[1] if src and ":" in src.source else "DATABASE_URL"
        n["url_var"] = var if var.isidentifier() else "DATABASE_URL"
        for key in ("convex_url", "convex_site_url", "http_action"):
            v = self.inputs.get(key)
            if v:
                n[key] = v.display
        return n

from . import cause, steps

cause(
    "net.dns_not_found",
    "{host} does not resolve",
    "The system resolver answered that {host} does not exist (NXDOMAIN), so no connection was ever tried. "
    "Either the name is misspelt, or it only exists in a private DNS this machine does not use.",
    lambda n, e: steps(
        f"Check the name where the URL came from ({n['url_var']}).",
        ("Ask DNS yourself", f"getent hosts {n['host']} || dig +short {n['host']}"),
        f"Compare {n['host']} with the host your provider shows: "
        + (f"{e['hint']}" if e.get("hint") else "a one-letter typo is the usual cause."),
    ),
)

cause(
    "net.connection_refused",
    "Nothing listens on {host}:{port}",
    "The host answered, but refused the TCP connection on port {port}: no server listens there (or it "
    "listens only on another address). Postgres normally listens on 5432; on Fly Postgres, 5433 is the "
    "node itself and PgBouncer setups use 6432.",
    lambda n, e: steps(
        f"Make the URL's port match what the server listens on, or start the server.",
        ("See what answers on the usual ports", f"for p in 5432 5433 6432; do nc -zv -w2 {n['host']} $p; done"),
        f"On the database machine, `listen_addresses` and `port` in postgresql.conf say where it listens.",
    ),
)

def _no_answer_explanation(n, e) -> str:
    attempts = e.get("attempts") or []
    if any(a.get("result") == "unreachable" for a in attempts):
        detail = next(a.get("detail", "") for a in attempts if a.get("result") == "unreachable")
        return (
            "No packet could even leave for {target}: this machine has no route to it ({detail}). "
            "The address is in a network this machine is not connected to (a private range, a Fly 6PN address "
            "outside the WireGuard tunnel, an IPv6 address on an IPv4-only host)."
        ).format_map({**n, "detail": detail})
    return (
        "TCP packets to {target} got no answer at all within {timeout_s} s: something drops them "
        "(a firewall, a security group, an address that no longer exists, or a private address not routed from here)."
    ).format_map(n)


cause(
    "net.connect_timeout",
    "No answer from {host}:{port}",
    _no_answer_explanation,
    lambda n, e: steps(
        "Find where the packets stop.",
        ("Is there a route to the address?", f"ip route get {e.get('address') or n['host']}"),
        "Check the firewall or security group in front of the database for port {port}.".format(port=n["port"]),
        "A Fly 6PN address (fdaa:…) changes when a machine moves: use the app's .internal or .flycast name, never a literal address.",
    ),
)

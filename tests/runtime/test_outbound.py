"""Outbound HTTP safety for the runtime (DESIGN R5).

The SSRF list is refused by default and opened only through the allow-list; redirects
are checked again on every hop; names are checked after resolution. Limits (size,
redirects, timeout) are enforced. The backend is an aiohttp server on 127.0.0.1, which
the checks themselves refuse, so every test that reaches it allow-lists it. No database.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import socket
import time
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from connectorhub.config import Settings
from connectorhub.errors import (
    EXIT_SERVER,
    InvalidRequest,
    OutboundBlocked,
    UpstreamError,
)
from connectorhub.runtime.http import HttpRequest, HttpResponse
from connectorhub.runtime.outbound import (
    GuardedResolver,
    OutboundClient,
    OutboundPolicy,
    is_blocked,
    parse_ip_literal,
)

from conftest import CONNECTORS  # noqa: E402 - tests/data/corpus, or $CONNECTORHUB_CORPUS

# --- backend and helpers --------------------------------------------------------------

HITS = web.AppKey("hits", list)


def backend_app() -> web.Application:
    hits: list[str] = []

    async def count(request: web.Request, handler):
        hits.append(request.path)
        return await handler(request)

    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "host": request.host,
                "headers": [[k, v] for k, v in request.headers.items()],
                "body": base64.b64encode(body).decode(),
            },
            status=201,
            headers={"X-Reply": "yes"},
        )

    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def redirect(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def chain(request: web.Request) -> web.Response:
        left = int(request.match_info["left"])
        if left == 0:
            return web.Response(text="done")
        raise web.HTTPFound(f"/chain/{left - 1}")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * int(request.match_info["size"]))

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.match_info["chunks"])):
            await response.write(b"y" * 1000)
        await response.write_eof()
        return response

    async def gzipped(request: web.Request) -> web.Response:
        payload = gzip.compress(b"z" * int(request.match_info["size"]))
        return web.Response(body=payload, headers={"Content-Encoding": "gzip", "Content-Type": "text/plain"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    async def peer(request: web.Request) -> web.Response:
        return web.Response(text=str(request.transport.get_extra_info("peername")[1]))

    async def slow_body(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)  # the head arrives at once, the body never ends in time
        for _ in range(50):
            await response.write(b"s")
            await asyncio.sleep(0.1)
        await response.write_eof()
        return response

    async def slow_hop(request: web.Request) -> web.Response:
        left = int(request.match_info["left"])
        await asyncio.sleep(0.2)
        if left == 0:
            return web.Response(text="done")
        raise web.HTTPFound(f"/slow-hop/{left - 1}")

    app = web.Application(middlewares=[web.middleware(count)])
    app[HITS] = hits
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/base/{tail:.*}", echo)
    app.router.add_get("/ok", ok)
    app.router.add_route("*", "/redirect", redirect)
    app.router.add_get("/chain/{left}", chain)
    app.router.add_get("/big/{size}", big)
    app.router.add_get("/stream/{chunks}", stream)
    app.router.add_get("/gzip/{size}", gzipped)
    app.router.add_get("/slow", slow)
    app.router.add_get("/peer", peer)
    app.router.add_get("/slow-body", slow_body)
    app.router.add_get("/slow-hop/{left}", slow_hop)
    return app


class FakeLookup(AbstractResolver):
    """Name resolution for tests: maps names to chosen addresses, counts lookups."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.calls: list[str] = []

    async def resolve(self, host, port=0, family=socket.AF_INET):
        self.calls.append(host)
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.names[host]
        ]

    async def close(self) -> None:
        pass


def request(host: str, path: str = "/ok", *, method: str = "GET", query=(), headers=None, body=None) -> HttpRequest:
    return HttpRequest(
        method=method,
        scheme="http",
        host=host,
        base_path="",
        path=path,
        query=list(query),
        headers=CIMultiDict(headers or {}),
        body=body,
    )


def with_backend(scenario, *, allow=(), lookup=None, **limits):
    """Run ``scenario(client, port, hits)`` against a fresh backend inside one event loop."""
    limits.setdefault("connect_timeout", 1.0)
    limits.setdefault("timeout", 3.0)

    async def main():
        app = backend_app()
        policy = OutboundPolicy.from_allow_list(allow, **limits)
        async with TestServer(app, host="127.0.0.1") as server, OutboundClient(policy, lookup=lookup) as client:
            return await scenario(client, server.port, app[HITS])

    return asyncio.run(main())


# --- is_blocked (pure) ------------------------------------------------------------------


@pytest.mark.parametrize(
    "address, words",
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.10.10", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("240.0.0.1", "reserved"),
        ("2130706433", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("::ffff:127.0.0.1", "IPv4-mapped address of a loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped address of a cloud metadata"),
        ("64:ff9b::7f00:1", "NAT64 address of a loopback"),
        ("64:ff9b::a00:1", "NAT64 address of a private"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("2002:7f00:1::1", "6to4 address of a loopback"),
        ("2002:a9fe:a9fe::1", "6to4 address of a cloud metadata"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo address of a loopback"),
        ("::7f00:1", "IPv4-compatible"),
        ("192.0.2.1", "not publicly routable"),
        ("2001:db8::1", "not publicly routable"),
    ],
)
def test_r5_is_blocked_names_the_reason(address, words):
    """R5: every SSRF-relevant range is refused, with a reason naming the range."""
    reason = is_blocked(address)
    assert reason is not None and words in reason


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
     "64:ff9b::808:808", "::ffff:8.8.8.8", "2002:808:808::1"],
)
def test_r5_public_addresses_are_not_blocked(address):
    """R5: public addresses (also when embedded in NAT64, mapped or 6to4 form) pass."""
    assert is_blocked(address) is None


def test_r5_is_blocked_rejects_a_name():
    with pytest.raises(ValueError):
        is_blocked("example.com")


@pytest.mark.parametrize(
    "host, expected",
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("[::1]", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("example.com", None),
        ("cafe.be", None),
        ("0xdead.example", None),
        ("127.0.0.1 evil", None),  # inet_aton would ignore what follows the space
        ("99999999999", None),
    ],
)
def test_r5_ip_literals_are_read_like_inet_aton(host, expected):
    """R5: numeric host forms mean the address the C library would connect to."""
    parsed = parse_ip_literal(host)
    assert (None if parsed is None else str(parsed)) == expected


@pytest.mark.corpus
@pytest.mark.skipif(not CONNECTORS.is_dir(), reason=f"no connector corpus at {CONNECTORS}")
def test_r5_corpus_hosts_are_names_and_valid_allow_list_entries():
    """R5: the hosts of real connectors are never mistaken for IP literals, and each is
    accepted as an allow-list entry (an administrator may open any of them)."""
    hosts, with_host = set(), 0
    for path in CONNECTORS.rglob("apiDefinition.swagger.json"):
        try:
            host = json.loads(path.read_bytes().decode("utf-8-sig")).get("host")
        except ValueError:
            continue
        if host:
            hosts.add(host.split(":")[0])
            with_host += 1
    assert with_host and len(hosts) > with_host // 2  # most connectors have hosts of their own
    assert [h for h in hosts if parse_ip_literal(h) is not None] == []
    policy = OutboundPolicy.from_allow_list(sorted(hosts))
    assert all(policy.allows_host(h) for h in hosts)


# --- the policy and its configuration ---------------------------------------------------


def test_r5_allow_list_parses_hosts_wildcards_addresses_and_ranges():
    policy = OutboundPolicy.from_allow_list("API.internal, *.corp.example, 127.0.0.1, 10.0.0.0/8, [::1], 2130706433")
    assert policy.allows_host("api.internal") and policy.allows_host("api.internal.")
    assert policy.allows_host("a.corp.example") and policy.allows_host("b.a.corp.example")
    assert not policy.allows_host("corp.example") and not policy.allows_host("evilcorp.example")
    assert not policy.allows_host("api.internal.evil")
    assert policy.refusal(parse_ip_literal("10.200.0.1")) is None
    assert policy.refusal(parse_ip_literal("::1")) is None
    assert policy.refusal(parse_ip_literal("::ffff:127.0.0.1")) is None
    assert "private" in policy.refusal(parse_ip_literal("192.168.0.1"))
    assert "loopback" in OutboundPolicy().refusal(parse_ip_literal("127.0.0.1"))


@pytest.mark.parametrize("entry", ["10.0.0.1/8", "10.0.0.0/33", "http://api.internal", "api.internal:8080", "bad host", "a..b"])
def test_r5_bad_allow_list_entry_is_a_startup_error_naming_it(entry):
    with pytest.raises(InvalidRequest) as caught:
        OutboundPolicy.from_allow_list(f"api.internal, {entry}")
    assert caught.value.code == "OutboundAllowListInvalid"
    assert repr(entry) in caught.value.detail and "CONNECTORHUB_OUTBOUND_ALLOW" in caught.value.detail


def test_r5_policy_from_env(monkeypatch):
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_ALLOW", " backend.test , 10.1.0.0/16 ,")
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_TIMEOUT", "12.5")
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_MAX_BYTES", "2048")
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_MAX_REDIRECTS", "2")
    policy = OutboundPolicy.from_env()
    assert policy.allows_host("backend.test")
    assert policy.refusal(parse_ip_literal("10.1.2.3")) is None
    assert (policy.timeout, policy.max_response_bytes, policy.max_redirects) == (12.5, 2048, 2)
    assert policy.connect_timeout == 10.0


def test_r5_policy_defaults():
    settings = Settings(home=Path("."), database_url="sqlite://")
    policy = OutboundPolicy.from_settings(settings)
    assert (policy.timeout, policy.max_response_bytes, policy.max_redirects) == (30.0, 10 * 1024 * 1024, 5)
    assert not policy.allowed_hosts and not policy.allowed_networks


def test_r5_bad_numeric_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_TIMEOUT", "soon")
    with pytest.raises(InvalidRequest) as caught:
        Settings.from_env()
    assert caught.value.code == "SettingInvalid" and "CONNECTORHUB_OUTBOUND_TIMEOUT" in caught.value.detail
    monkeypatch.delenv("CONNECTORHUB_OUTBOUND_TIMEOUT")
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_MAX_REDIRECTS", "-1")
    with pytest.raises(InvalidRequest, match="redirect limit"):
        OutboundPolicy.from_env()


def test_r5_errors_map_to_403_and_502():
    blocked = OutboundBlocked("x", host="h", reason="r")
    upstream = UpstreamError("x", code="UpstreamTimeout")
    assert (blocked.status, blocked.code, blocked.to_problem()["host"]) == (403, "OutboundAddressBlocked", "h")
    assert (upstream.status, upstream.exit_code, upstream.code) == (502, EXIT_SERVER, "UpstreamTimeout")


# --- the SSRF list, end to end ------------------------------------------------------------

# (host as written in the URL, the allow-list entry that opens it, whether the test backend
# on 127.0.0.1 answers once it is allowed: True yes, False no, None depends on the machine)
SSRF_TARGETS = [
    ("127.0.0.1", "127.0.0.1", True),
    ("localhost", "localhost", True),
    ("0.0.0.0", "0.0.0.0", None),
    ("[::1]", "::1", None),
    ("169.254.169.254", "169.254.169.254", False),
    ("10.0.0.1", "10.0.0.0/8", False),
    ("192.168.1.1", "192.168.0.0/16", False),
    ("2130706433", "127.0.0.1", True),
    ("0177.0.0.1", "127.0.0.0/8", True),
    ("0x7f.0.0.1", "127.0.0.1", True),
    ("127.1", "127.0.0.1", True),
    ("[::ffff:127.0.0.1]", "127.0.0.1", None),
    ("[64:ff9b::7f00:1]", "64:ff9b::/96", False),
]


@pytest.mark.parametrize("host, allow, reachable", SSRF_TARGETS, ids=[t[0] for t in SSRF_TARGETS])
def test_r5_ssrf_target_refused_by_default(host, allow, reachable):
    """R5: loopback, private, link-local, metadata and their disguises are refused
    before anything is sent, with a message naming the host and the allow-list."""

    async def scenario(client, port, hits):
        with pytest.raises(OutboundBlocked) as caught:
            await client.send(request(f"{host}:{port}", "/ok", query=[("key", "CANARY")]))
        return caught.value, list(hits)

    error, hits = with_backend(scenario)
    assert hits == []
    assert error.status == 403 and error.code == "OutboundAddressBlocked"
    assert "CONNECTORHUB_OUTBOUND_ALLOW" in error.detail and error.extra["reason"] in error.detail
    assert error.extra["host"] and f"'{error.extra['host']}'" in error.detail
    assert "CANARY" not in error.detail


@pytest.mark.parametrize("host, allow, reachable", SSRF_TARGETS, ids=[t[0] for t in SSRF_TARGETS])
def test_r5_ssrf_target_allowed_through_allow_list(host, allow, reachable):
    """R5: the administrator allow-list opens exactly that host or range."""

    async def scenario(client, port, hits):
        try:
            return await client.send(request(f"{host}:{port}", "/ok"))
        except UpstreamError as error:  # allowed, but nothing listens there
            return error

    outcome = with_backend(scenario, allow=[allow], connect_timeout=0.5, timeout=2.0)
    assert not isinstance(outcome, OutboundBlocked)
    if reachable is True:
        assert isinstance(outcome, HttpResponse) and (outcome.status, outcome.body) == (200, b"ok")
    elif reachable is False:
        assert isinstance(outcome, UpstreamError) and outcome.code in ("UpstreamUnreachable", "UpstreamTimeout")


def test_r5_a_client_remembers_only_hosts_that_passed_and_rewrites_them_the_same():
    """R5 on repeated calls: the client remembers the verdict for a host that passed (the
    literal rewritten to the address it means), and a refused host is refused every time."""

    async def scenario(client, port, hits):
        outcomes = []
        for _ in range(2):
            with pytest.raises(OutboundBlocked):
                await client.send(request(f"[::1]:{port}", "/ok"))
            outcomes.append(await client.send(request(f"0177.0.0.1:{port}", "/peer")))
        return outcomes, client._hosts

    outcomes, remembered = with_backend(scenario, allow=["127.0.0.1"])
    assert [o.status for o in outcomes] == [200, 200]
    assert [o.url for o in outcomes] == [outcomes[0].url] * 2 and "//127.0.0.1:" in outcomes[0].url
    assert remembered == {"0177.0.0.1": "127.0.0.1"}


def test_r5_allow_list_entry_opens_only_itself():
    """R5: allowing 127.0.0.1 does not open ::1 or 10.0.0.1."""

    async def scenario(client, port, hits):
        outcomes = []
        for host in ("[::1]", "10.0.0.1", "169.254.169.254"):
            with pytest.raises(OutboundBlocked):
                await client.send(request(f"{host}:{port}"))
        outcomes.append(await client.send(request(f"127.0.0.1:{port}")))
        return outcomes

    [response] = with_backend(scenario, allow=["127.0.0.1"])
    assert response.status == 200


def test_r5_name_resolving_to_loopback_is_refused():
    """R5: the check runs on the resolved address, so a public-looking name that
    resolves to 127.0.0.1 is refused unless the name (or the address) is allowed."""
    names = {"evil.test": ["127.0.0.1"], "mixed.test": ["10.0.0.5", "::1"]}

    async def scenario(client, port, hits):
        for host in ("evil.test", "mixed.test"):
            with pytest.raises(OutboundBlocked) as caught:
                await client.send(request(f"{host}:{port}"))
            assert f"'{host}' resolves to" in caught.value.detail
        return list(hits)

    assert with_backend(scenario, lookup=FakeLookup(names)) == []

    async def allowed(client, port, hits):
        return await client.send(request(f"evil.test:{port}"))

    for allow in (["evil.test"], ["*.test"], ["127.0.0.0/8"]):
        assert with_backend(allowed, allow=allow, lookup=FakeLookup(names)).status == 200


def test_r5_resolver_keeps_only_allowed_addresses():
    """R5: of a name's addresses only the allowed ones are returned (and so connected
    to); none left is a refusal."""
    lookup = FakeLookup({"mixed.test": ["::1", "127.0.0.1", "10.0.0.1"], "public.test": ["93.184.216.34"]})

    async def main():
        guarded = GuardedResolver(OutboundPolicy.from_allow_list("127.0.0.1"), lookup)
        mixed = await guarded.resolve("mixed.test", 80)
        public = await guarded.resolve("public.test", 80)
        with pytest.raises(OutboundBlocked):
            await GuardedResolver(OutboundPolicy(), lookup).resolve("mixed.test", 80)
        return mixed, public

    mixed, public = asyncio.run(main())
    assert [r["host"] for r in mixed] == ["127.0.0.1"]
    assert [r["host"] for r in public] == ["93.184.216.34"]


# --- redirects ------------------------------------------------------------------------------


def redirect_targets(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/ok",
        f"http://localhost:{port}/ok",
        f"http://[::1]:{port}/ok",
        f"http://2130706433:{port}/ok",
        f"http://0177.0.0.1:{port}/ok",
        f"http://[::ffff:127.0.0.1]:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        f"http://evil.test:{port}/ok",
    ]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_r5_redirect_from_allowed_backend_to_blocked_target_is_refused(status):
    """R5: every redirect hop is checked again: the backend is allowed by name, the
    same server reached by address or by another name is not."""
    lookup = FakeLookup({"backend.test": ["127.0.0.1"], "evil.test": ["127.0.0.1"], "localhost": ["127.0.0.1", "::1"]})

    async def scenario(client, port, hits):
        refused = []
        for target in redirect_targets(port):
            try:
                await client.send(request(f"backend.test:{port}", "/redirect", query=[("status", str(status)), ("to", target)]))
            except OutboundBlocked:
                refused.append(target)
        followed = await client.send(request(f"backend.test:{port}", "/redirect", query=[("to", "/ok")]))
        return refused, followed, list(hits), port

    refused, followed, hits, port = with_backend(scenario, allow=["backend.test"], lookup=lookup)
    assert refused == redirect_targets(port)
    assert hits.count("/ok") == 1  # only the allowed, relative redirect reached it
    assert (followed.status, followed.body) == (200, b"ok")


def test_r5_redirect_to_ipv6_loopback_refused_when_only_127_0_0_1_is_allowed():
    async def scenario(client, port, hits):
        with pytest.raises(OutboundBlocked):
            await client.send(request(f"127.0.0.1:{port}", "/redirect", query=[("to", f"http://[::1]:{port}/ok")]))
        return list(hits)

    assert with_backend(scenario, allow=["127.0.0.1"]) == ["/redirect"]


def test_r5_redirect_to_other_scheme_is_refused():
    async def scenario(client, port, hits):
        with pytest.raises(UpstreamError) as caught:
            await client.send(request(f"127.0.0.1:{port}", "/redirect", query=[("to", "file:///etc/passwd")]))
        return caught.value

    assert with_backend(scenario, allow=["127.0.0.1"]).code == "UpstreamRedirectInvalid"


@pytest.mark.parametrize(
    "status, method, expected_method, keeps_body",
    [(307, "POST", "POST", True), (308, "PUT", "PUT", True), (303, "POST", "GET", False),
     (302, "POST", "GET", False), (301, "POST", "GET", False), (302, "PUT", "PUT", True)],
)
def test_r5_redirect_method_and_body_rules(status, method, expected_method, keeps_body):
    """307/308 keep method and body; 303, and 301/302 after POST, become a GET."""

    async def scenario(client, port, hits):
        return await client.send(
            request(f"127.0.0.1:{port}", "/redirect", method=method, query=[("status", str(status)), ("to", "/echo")],
                    headers={"Content-Type": "application/json"}, body=b'{"a": 1}')
        )

    response = with_backend(scenario, allow=["127.0.0.1"])
    echoed = response.json()
    headers = dict(echoed["headers"])
    assert echoed["method"] == expected_method
    assert base64.b64decode(echoed["body"]) == (b'{"a": 1}' if keeps_body else b"")
    assert ("Content-Type" in headers) is keeps_body


def test_r5_credentials_do_not_follow_a_redirect_to_another_origin():
    """Authorization, cookies and the headers the caller marks sensitive (API keys) are
    dropped when a redirect leaves the origin, kept when it stays."""
    lookup = FakeLookup({"backend.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    secrets = {"Authorization": "Bearer CANARY", "X-Api-Key": "CANARY", "Cookie": "s=CANARY", "X-Plain": "kept"}

    async def scenario(client, port, hits):
        same = await client.send(
            request(f"backend.test:{port}", "/redirect", query=[("to", "/echo")], headers=secrets),
            sensitive_headers=["X-Api-Key"],
        )
        other = await client.send(
            request(f"backend.test:{port}", "/redirect", query=[("to", f"http://other.test:{port}/echo")], headers=secrets),
            sensitive_headers=["X-Api-Key"],
        )
        return same.json(), other.json()

    same, other = with_backend(scenario, allow=["*.test"], lookup=lookup)
    same_headers, other_headers = dict(same["headers"]), dict(other["headers"])
    assert same_headers["Authorization"] == "Bearer CANARY" and same_headers["X-Api-Key"] == "CANARY"
    assert "CANARY" not in json.dumps(other["headers"])
    assert other_headers["X-Plain"] == "kept" and other["host"].startswith("other.test")


def test_r5_redirect_limit():
    """R5: at most max_redirects hops are followed."""

    async def scenario(client, port, hits):
        done = await client.send(request(f"127.0.0.1:{port}", "/chain/3"))
        with pytest.raises(UpstreamError) as caught:
            await client.send(request(f"127.0.0.1:{port}", "/chain/4"))
        return done, caught.value

    done, error = with_backend(scenario, allow=["127.0.0.1"], max_redirects=3)
    assert (done.status, done.body) == (200, b"done")
    assert error.code == "TooManyRedirects" and error.status == 502


# --- round trip, limits, pooling ------------------------------------------------------------


def test_r5_allowed_round_trip_sends_request_exactly():
    """Method, encoded path, query order and repeats, headers (repeated too) and a
    binary body reach the backend unchanged; status, headers and body come back."""
    body = bytes(range(256))
    lookup = FakeLookup({"backend.test": ["127.0.0.1"]})

    async def scenario(client, port, hits):
        req = HttpRequest(
            method="post",
            scheme="http",
            host=f"backend.test:{port}",
            base_path="/base",
            path="/items/a%2Fb%20c",
            query=[("x", "1"), ("x", "2"), ("q", "a b&c/d")],
            headers=CIMultiDict([("X-Custom", "one"), ("X-Multi", "a"), ("X-Multi", "b"),
                                 ("Content-Type", "application/octet-stream")]),
            body=body,
        )
        return await client.send(req)

    response = with_backend(scenario, allow=["backend.test"], lookup=lookup)
    echoed = response.json()
    assert response.status == 201 and response.headers["X-Reply"] == "yes"
    assert echoed["method"] == "POST"
    assert echoed["raw_path"] == "/base/items/a%2Fb%20c?x=1&x=2&q=a%20b%26c%2Fd"
    assert echoed["host"].startswith("backend.test:")
    sent = echoed["headers"]
    assert ["X-Custom", "one"] in sent and ["X-Multi", "a"] in sent and ["X-Multi", "b"] in sent
    assert base64.b64decode(echoed["body"]) == body
    assert response.url.startswith("http://backend.test:")


@pytest.mark.parametrize(
    "path, allowed",
    [("/big/1000", True), ("/big/1001", False), ("/stream/1", True), ("/stream/5", False),
     ("/gzip/900", True), ("/gzip/100000", False)],
)
def test_r5_response_size_limit(path, allowed):
    """R5: bodies over max_response_bytes are refused, whether announced
    (Content-Length), streamed (chunked) or compressed (measured after decoding)."""

    async def scenario(client, port, hits):
        try:
            return await client.send(request(f"127.0.0.1:{port}", path))
        except UpstreamError as error:
            return error

    outcome = with_backend(scenario, allow=["127.0.0.1"], max_response_bytes=1000)
    if allowed:
        assert isinstance(outcome, HttpResponse) and outcome.status == 200 and 0 < len(outcome.body) <= 1000
    else:
        assert isinstance(outcome, UpstreamError) and outcome.code == "UpstreamResponseTooLarge"


def test_r5_decoded_body_drops_content_encoding():
    async def scenario(client, port, hits):
        return await client.send(request(f"127.0.0.1:{port}", "/gzip/500"))

    response = with_backend(scenario, allow=["127.0.0.1"])
    assert response.body == b"z" * 500
    assert "Content-Encoding" not in response.headers and "Content-Length" not in response.headers


def test_r5_timeout():
    """R5: a call that takes longer than the timeout ends with UpstreamTimeout."""

    async def scenario(client, port, hits):
        started = time.monotonic()
        with pytest.raises(UpstreamError) as caught:
            await client.send(request(f"127.0.0.1:{port}", "/slow"))
        return caught.value, time.monotonic() - started

    error, elapsed = with_backend(scenario, allow=["127.0.0.1"], timeout=0.3)
    assert error.code == "UpstreamTimeout" and error.status == 502
    assert elapsed < 2


def test_r5_the_timeout_covers_the_body_and_every_redirect_together():
    """R5 (CONNECTORHUB_OUTBOUND_TIMEOUT): one deadline for the whole call — a body that
    trickles past it, and redirect hops that each answer in time but together do not,
    both end with UpstreamTimeout at the deadline."""

    async def scenario(client, port, hits):
        outcomes = []
        for path in ("/slow-body", "/slow-hop/3"):
            started = time.monotonic()
            with pytest.raises(UpstreamError) as caught:
                await client.send(request(f"127.0.0.1:{port}", path))
            outcomes.append((caught.value.code, time.monotonic() - started))
        return outcomes

    # Four hops of 0.2 s: each within 0.7 s, together not.
    outcomes = with_backend(scenario, allow=["127.0.0.1"], timeout=0.7)
    for code, elapsed in outcomes:
        assert code == "UpstreamTimeout" and 0.65 < elapsed < 1.5, outcomes


def test_r5_unreachable_upstream_hides_path_and_query():
    """An upstream that refuses the connection is UpstreamUnreachable; the message names
    the host but not the query, which may carry an API key (K2)."""

    async def scenario(client, port, hits):
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        with pytest.raises(UpstreamError) as caught:
            await client.send(request(f"127.0.0.1:{free}", "/secret-path", query=[("key", "CANARY")]))
        return caught.value

    error = with_backend(scenario, allow=["127.0.0.1"])
    assert error.code == "UpstreamUnreachable" and "127.0.0.1" in error.detail
    assert "CANARY" not in error.detail and "secret-path" not in error.detail


def test_r5_one_pooled_connection_and_cached_checked_lookup():
    """Calls reuse one kept-alive connection and one (checked) lookup."""
    lookup = FakeLookup({"backend.test": ["127.0.0.1"]})

    async def scenario(client, port, hits):
        first = await client.send(request(f"backend.test:{port}", "/peer"))
        second = await client.send(request(f"backend.test:{port}", "/peer"))
        return first.body, second.body

    first, second = with_backend(scenario, allow=["backend.test"], lookup=lookup)
    assert first == second
    assert lookup.calls == ["backend.test"]


def test_r5_client_is_bound_to_its_event_loop():
    client = OutboundClient(OutboundPolicy.from_allow_list("127.0.0.1"))

    async def use():
        with pytest.raises(OutboundBlocked):
            await client.send(request("10.0.0.1:80"))

    async def main():
        await use()
        try:
            with pytest.raises(RuntimeError, match="event loop"):
                await asyncio.to_thread(asyncio.run, use())
        finally:
            await client.close()

    asyncio.run(main())

"""gauntlet.local.network_guard: only 127.0.0.0/8 (and ::1) is reachable while it is installed.

Safety: non-loopback addresses are only ever used while the guard is installed, and the guard's
"originals" are swapped for a second net that refuses anything outside loopback on its own, so
even a broken guard could not send a packet or a DNS query. Only documentation addresses
(TEST-NET-3 203.0.113.0/24, 2001:db8::/32) and reserved names (.invalid, example.com) are used.
"""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading

import pytest

from gauntlet.local import network_guard
from gauntlet.local.network_guard import BlockedConnection, blocked_attempts, is_loopback

OUTSIDE_V4 = "203.0.113.7"      # TEST-NET-3: documentation only, never routed
OUTSIDE_V6 = "2001:db8::7"      # IPv6 documentation prefix
OUTSIDE_NAME = "gauntlet-guard-test.invalid"


def _really_loopback(host) -> bool:
    """The second net's own, independent notion of loopback."""
    if host is None:
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def guard():
    """Install the guard; behind it, a net that records and refuses anything it let through."""
    assert not network_guard.installed(), "a previous test left the guard installed"
    real = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
            "getaddrinfo": socket.getaddrinfo}
    leaked = []

    def net_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _really_loopback(address[0]):
            leaked.append(("connect", address))
            raise AssertionError(f"guard let a connection to {address} through")
        return real["connect"](self, address)

    def net_connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _really_loopback(address[0]):
            leaked.append(("connect_ex", address))
            raise AssertionError(f"guard let a connection to {address} through")
        return real["connect_ex"](self, address)

    def net_getaddrinfo(host, port, *args, **kwargs):
        if not _really_loopback(host):
            leaked.append(("getaddrinfo", host))
            raise AssertionError(f"guard let a lookup of {host!r} through")
        return real["getaddrinfo"](host, port, *args, **kwargs)

    network_guard.install()
    try:
        assert socket.socket.connect is not real["connect"]
        network_guard._originals.update(connect=net_connect, connect_ex=net_connect_ex,
                                        getaddrinfo=net_getaddrinfo)
        yield leaked
    finally:
        network_guard._originals.update(real)
        network_guard.uninstall()
        assert socket.socket.connect is real["connect"]
        assert socket.socket.connect_ex is real["connect_ex"]
        assert socket.getaddrinfo is real["getaddrinfo"]
    assert leaked == [], f"the guard let these through: {leaked}"


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)
    try:
        yield server
    finally:
        server.close()


# --- install / uninstall ------------------------------------------------------------------------

def test_install_and_uninstall_swap_the_socket_functions():
    real_connect, real_gai = socket.socket.connect, socket.getaddrinfo
    assert not network_guard.installed()
    network_guard.install()
    try:
        assert network_guard.installed()
        assert socket.socket.connect is network_guard._guarded_connect
        assert socket.socket.connect_ex is network_guard._guarded_connect_ex
        assert socket.getaddrinfo is network_guard._guarded_getaddrinfo
        network_guard.install()  # idempotent: does not save the guarded functions as originals
        assert network_guard._originals["connect"] is real_connect
    finally:
        network_guard.uninstall()
    assert not network_guard.installed()
    assert socket.socket.connect is real_connect
    assert socket.getaddrinfo is real_gai
    network_guard.uninstall()  # idempotent too
    assert socket.socket.connect is real_connect


# --- loopback is allowed ------------------------------------------------------------------------

def test_loopback_connection_works(guard, listener):
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        peer, _ = listener.accept()
        with peer:
            client.sendall(b"ping")
            assert peer.recv(4) == b"ping"
    finally:
        client.close()


def test_loopback_connect_ex_works(guard, listener):
    port = listener.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        assert client.connect_ex(("127.0.0.1", port)) == 0
        listener.accept()[0].close()


def test_other_127_addresses_are_allowed(guard):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        server.bind(("127.0.0.42", 0))
        server.listen(1)
        server.settimeout(5)
        client = socket.create_connection(server.getsockname(), timeout=5)
        client.close()
        server.accept()[0].close()
    finally:
        server.close()


def test_localhost_name_resolves_and_connects(guard, listener):
    port = listener.getsockname()[1]
    infos = socket.getaddrinfo("localhost", port, socket.AF_INET, socket.SOCK_STREAM)
    assert all(info[4][0].startswith("127.") for info in infos)
    client = socket.create_connection(("localhost", port), timeout=5)
    client.close()
    listener.accept()[0].close()


def test_passive_getaddrinfo_with_no_host_is_allowed(guard):
    assert socket.getaddrinfo(None, 8080, socket.AF_INET, socket.SOCK_STREAM)


def test_unix_sockets_are_not_affected(guard, tmp_path):
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(path)
        server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
    finally:
        server.close()


def test_http_client_to_loopback_server_works(guard):
    import requests

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        session = requests.Session()
        session.trust_env = False  # no proxy from the environment
        response = session.get(f"http://127.0.0.1:{server.server_port}/", timeout=5)
        assert response.text == "hello"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- everything else is refused before a packet is sent -----------------------------------------

def test_connect_outside_loopback_is_refused_before_connecting(guard):
    before = len(blocked_attempts())
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(BlockedConnection) as caught:
            sock.connect((OUTSIDE_V4, 80))
        with pytest.raises(OSError):
            sock.getpeername()  # never connected
    message = str(caught.value)
    assert f"{OUTSIDE_V4}:80" in message
    assert "127.0.0.0/8" in message
    assert blocked_attempts()[before:] == [f"{OUTSIDE_V4}:80"]
    assert isinstance(caught.value, ConnectionRefusedError)


def test_connect_ex_outside_loopback_raises_rather_than_returning_an_errno(guard):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, \
            pytest.raises(BlockedConnection, match=f"{OUTSIDE_V4}:443"):
        sock.connect_ex((OUTSIDE_V4, 443))


def test_connect_to_a_hostname_is_refused_without_resolving_it(guard):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, \
            pytest.raises(BlockedConnection, match=OUTSIDE_NAME):
        sock.connect((OUTSIDE_NAME, 80))


def test_create_connection_outside_is_refused(guard):
    with pytest.raises(BlockedConnection, match=OUTSIDE_V4):
        socket.create_connection((OUTSIDE_V4, 443), timeout=1)


def test_name_lookup_outside_is_refused(guard):
    before = len(blocked_attempts())
    with pytest.raises(BlockedConnection, match=f"{OUTSIDE_NAME}:443"):
        socket.getaddrinfo(OUTSIDE_NAME, 443)
    with pytest.raises(BlockedConnection, match="example.com"):
        socket.getaddrinfo(b"example.com", None)
    assert blocked_attempts()[before:] == [f"{OUTSIDE_NAME}:443", "example.com"]


def test_ipv6_outside_is_refused(guard):
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        pytest.skip("no IPv6 sockets here")
    with sock, pytest.raises(BlockedConnection, match="2001:db8::7"):
        sock.connect((OUTSIDE_V6, 80, 0, 0))


def test_refused_from_another_thread_too(guard):
    errors = []

    def worker():
        try:
            socket.create_connection((OUTSIDE_V4, 80), timeout=1)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(timeout=5)
    assert len(errors) == 1 and isinstance(errors[0], BlockedConnection)


def test_http_client_to_outside_fails_loudly(guard):
    import requests

    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        session.get(f"http://{OUTSIDE_V4}/", timeout=1)
    assert "network guard" in str(caught.value)


def test_blocked_attempts_is_a_copy_in_order(guard):
    before = len(blocked_attempts())
    for port in (1, 2, 3):
        with socket.socket() as sock, pytest.raises(BlockedConnection):
            sock.connect((OUTSIDE_V4, port))
    attempts = blocked_attempts()
    assert attempts[before:] == [f"{OUTSIDE_V4}:1", f"{OUTSIDE_V4}:2", f"{OUTSIDE_V4}:3"]
    attempts.clear()
    assert len(blocked_attempts()) == before + 3


def test_loopback_traffic_is_not_recorded_as_blocked(guard, listener):
    before = blocked_attempts()
    socket.create_connection(listener.getsockname(), timeout=5).close()
    listener.accept()[0].close()
    assert blocked_attempts() == before


# --- is_loopback --------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.11", "127.255.255.254", "::1",
                                  "localhost", "localhost.localdomain", "ip6-localhost",
                                  "::1%lo"])
def test_is_loopback_true(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", [OUTSIDE_V4, "10.0.0.1", "192.168.1.1", "0.0.0.0", "128.0.0.1",
                                  "2001:db8::1", "::", "example.com", "", "localhost.evil.com",
                                  "127.0.0.1.nip.io"])
def test_is_loopback_false(host):
    assert not is_loopback(host)

"""The programs kernel tests start inside a namespace: tiny servers and a batch client, stdlib only.

Started as ``python -I -S nsprog.py ...`` (no site-packages, no environment: python starts several times faster
under TCG), one client process making all of a test's requests::

    python nsprog.py http-server NAME PORT [ADDRESS]   # answers every GET with "NAME\\n"
    python nsprog.py udp-server NAME PORT [ADDRESS]    # answers every datagram with "NAME\\n"
    python nsprog.py http-get ADDRESS PORT COUNT [TIMEOUT]   # prints one answer (or "ERR <why>") per line
    python nsprog.py udp-ask ADDRESS PORT COUNT [TIMEOUT]
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys

READY = "ready"


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def _http_server(name: str, port: int, address: str) -> None:
    body = f"{name}\n".encode()
    reply = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):
                self.request.settimeout(5)
                self.request.recv(4096)
                self.request.sendall(reply)

    class Server(socketserver.ThreadingTCPServer):
        address_family = _family(address or "::")  # "::" is dual-stack: IPv4 clients arrive v4-mapped
        allow_reuse_address = True
        daemon_threads = True

    with Server((address or "::", port), Handler) as srv:
        print(READY, flush=True)
        srv.serve_forever()


def _udp_server(name: str, port: int, address: str) -> None:
    sock = socket.socket(_family(address or "::"), socket.SOCK_DGRAM)
    sock.bind((address or "::", port))
    print(READY, flush=True)
    while True:
        _, peer = sock.recvfrom(4096)
        sock.sendto(f"{name}\n".encode(), peer)


def _http_get(address: str, port: int, count: int, timeout: float) -> None:
    host = f"[{address}]" if ":" in address else address
    for _ in range(count):
        try:
            with socket.create_connection((address, port), timeout=timeout) as sock:
                sock.sendall(f"GET / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
                data = b""
                while chunk := sock.recv(4096):
                    data += chunk
            print(data.partition(b"\r\n\r\n")[2].decode().strip(), flush=True)
        except OSError as error:
            print(f"ERR {error}", flush=True)


def _udp_ask(address: str, port: int, count: int, timeout: float) -> None:
    for _ in range(count):
        with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.sendto(b"ping", (address, port))
                print(sock.recv(4096).decode().strip(), flush=True)
            except OSError as error:
                print(f"ERR {error}", flush=True)


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode in ("http-server", "udp-server"):
        name, port, address = args[0], int(args[1]), args[2] if len(args) > 2 else ""
        (_http_server if mode == "http-server" else _udp_server)(name, port, address)
    else:
        address, port, count = args[0], int(args[1]), int(args[2])
        timeout = float(args[3]) if len(args) > 3 else 3.0
        (_http_get if mode == "http-get" else _udp_ask)(address, port, count, timeout)


if __name__ == "__main__":
    main(sys.argv[1:])

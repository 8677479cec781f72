"""The real servers of the VM's stack: a TCP server that answers with its own name.

An HTTP request (a first line starting ``GET``/``HEAD``) gets ``200 OK`` with body ``NAME\\n`` and the
connection closes, as a web server behind LVS would. Any other first line starts a long-lived line protocol: every
line in gets ``NAME\\n`` back, so a client can watch one TCP connection survive a director failover.
Stdlib only.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver

logger = logging.getLogger(__name__)


def serve(name: str, port: int) -> None:
    """Serve on every address (IPv4 and IPv6) of the namespace, port ``port``, until killed."""
    body = f"{name}\n".encode()
    reply = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(OSError):
                first = self.rfile.readline()
                if first.split(b" ", 1)[0] in (b"GET", b"HEAD"):
                    while self.rfile.readline().strip():  # the headers
                        pass
                    self.wfile.write(reply)
                    return
                while first:
                    self.wfile.write(body)
                    self.wfile.flush()
                    first = self.rfile.readline()

    class Server(socketserver.ThreadingTCPServer):
        address_family = socket.AF_INET6  # "::" is dual-stack: IPv4 clients arrive v4-mapped
        allow_reuse_address = True
        daemon_threads = True

    with Server(("::", port), Handler) as server:
        logger.info("%s serving on port %d", name, port)
        server.serve_forever()

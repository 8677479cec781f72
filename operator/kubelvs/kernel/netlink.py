"""The one netlink codec of ``kernel/``: message and attribute headers, and a socket that sends and reads back.

The hand-packed messages of this package (IPVS over generic netlink in :mod:`.ipvs_wire`, addresses over
rtnetlink in :mod:`.addresses`) are built from the headers here, and every reply is read by :class:`Socket`:
one ``send()`` of one request or a batch, then one receive loop for acks, errors and dumps, matched by sequence
number. Numbers follow ``include/uapi/linux/netlink.h`` and ``genetlink.h``. pyroute2 stays for everything that
is not hot (family look-up, link and route dumps); this exists because its codec is slow per message.
"""

from __future__ import annotations

import errno
import socket
import struct
from collections.abc import Callable, Iterator
from types import TracebackType

NETLINK_ROUTE = 0
NETLINK_GENERIC = 16
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10  # errors echo only the request's header, not the whole request
SO_RCVBUFFORCE = 33

NLMSG_NOOP = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLMSG_OVERRUN = 4

NLM_F_REQUEST = 0x01
NLM_F_MULTI = 0x02
NLM_F_ACK = 0x04
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300

NLA_TYPE_MASK = 0x3FFF  # clears NLA_F_NESTED and NLA_F_NET_BYTEORDER

NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence number, port id
GENLMSGHDR = struct.Struct("=IHHIIBBH")  # nlmsghdr, then cmd, version, reserved
GENL_HDRLEN = 4  # the genlmsghdr: a generic-netlink payload's attributes start after it
NLA = struct.Struct("=HH")  # length, type
_ERRNO = struct.Struct("=i")
_END = struct.Struct("=IHHIIi")  # a read of one NLMSG_DONE or NLMSG_ERROR: nlmsghdr and the errno
_FLAGS_FIELD = struct.Struct("=H")  # nlmsg_flags, at offset 6 of the header

DEFAULT_TIMEOUT = 30.0  # the kernel answers at once; a silent socket is a bug, not a wait
DEFAULT_BUFFER = 1 << 20  # larger than any datagram the kernel sends (dumps fill at most 32 KiB)


# ---- packing --------------------------------------------------------------------------------------------------


def header(length: int, kind: int, flags: int, seq: int, port: int = 0) -> bytes:
    """An nlmsghdr; port id 0 lets the kernel fill in ours."""
    return NLMSGHDR.pack(length, kind, flags, seq, port)


def genl_message(family_id: int, cmd: int, version: int, flags: int, seq: int, attrs: bytes = b"") -> bytes:
    """One generic-netlink message: nlmsghdr, genlmsghdr, then ``attrs``."""
    return GENLMSGHDR.pack(GENLMSGHDR.size + len(attrs), family_id, flags, seq, 0, cmd, version, 0) + attrs


def nla(kind: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = NLA.size + len(payload)
    return NLA.pack(length, kind) + payload + b"\0" * (-length % 4)


def with_flags(blob: bytes, flags: int) -> bytes:
    """``blob`` (one message) with ``flags`` added to its header's."""
    (present,) = _FLAGS_FIELD.unpack_from(blob, 6)
    return blob[:6] + _FLAGS_FIELD.pack(present | flags) + blob[8:]


# ---- unpacking ------------------------------------------------------------------------------------------------


def messages(data: bytes | memoryview) -> Iterator[tuple[int, int, int, bytes]]:
    """Split one read into (type, flags, sequence number, payload after the nlmsghdr).

    ValueError for a message shorter than its header or longer than the read: the kernel sends whole messages,
    so what follows cannot be trusted.
    """
    offset, size = 0, len(data)
    while offset < size:
        if offset + NLMSGHDR.size > size:
            raise ValueError(f"netlink read ends inside a message header at offset {offset}")
        length, kind, flags, seq, _port = NLMSGHDR.unpack_from(data, offset)
        if length < NLMSGHDR.size:
            raise ValueError(f"netlink message of {length} bytes at offset {offset}: shorter than its header")
        if offset + length > size:
            raise ValueError(f"netlink message of {length} bytes at offset {offset} runs past the read")
        yield kind, flags, seq, bytes(data[offset + NLMSGHDR.size : offset + length])
        offset += (length + 3) & ~3


def error_code(payload: bytes) -> int:
    """The errno of an NLMSG_ERROR or NLMSG_DONE payload (0 for an ack, a plain end, or no payload)."""
    if len(payload) < _ERRNO.size:
        return 0
    return -int(_ERRNO.unpack_from(payload)[0])


def end_of(data: bytes | memoryview, seq: int) -> int | None:
    """0 or the errno if ``data`` holds the NLMSG_DONE or NLMSG_ERROR of request ``seq``, else None."""
    if len(data) == _END.size:  # the kernel sends a dump's end as a read of its own: no loop
        length, kind, _flags, reply_seq, _port, code = _END.unpack(data)
        if length == _END.size and reply_seq == seq and kind in (NLMSG_DONE, NLMSG_ERROR):
            return -int(code)
        return None
    for kind, _flags, reply_seq, payload in messages(data):
        if reply_seq == seq and kind in (NLMSG_DONE, NLMSG_ERROR):
            return error_code(payload)
    return None


def attributes(data: bytes) -> dict[int, bytes]:
    """The attributes of an attribute stream by type (flag bits cleared); a later one of a type wins."""
    found = {}
    offset = 0
    while offset + NLA.size <= len(data):
        length, kind = NLA.unpack_from(data, offset)
        if length < NLA.size:
            break  # malformed: nothing sensible follows
        found[kind & NLA_TYPE_MASK] = data[offset + NLA.size : offset + length]
        offset += (length + 3) & ~3
    return found


def u32(data: bytes) -> int:
    return int(struct.unpack_from("=I", data)[0])


def asciiz(data: bytes) -> str:
    return data.split(b"\0", 1)[0].decode()


# ---- the socket -----------------------------------------------------------------------------------------------


class RepliesLost(OSError):
    """The kernel dropped replies (ENOBUFS: the receive buffer overflowed) or a read was cut short (EMSGSIZE).

    ``replies`` holds the (sequence number, errno) acks that did arrive; any other outcome is unknown.
    """

    def __init__(self, code: int, text: str, replies: list[tuple[int, int]] | None = None) -> None:
        super().__init__(code, text)
        self.replies = replies or []


class Socket:
    """A raw netlink socket of the calling thread's network namespace, with the one receive loop.

    Sequence numbers come from :meth:`sequence`, so replies to an abandoned request (a late ack, the rest of a
    dump) are told apart from the current one's. Reads go into one buffer: a fresh 1 MiB ``bytes`` per
    ``recv()`` costs page faults per read. Not thread-safe: callers hold their own lock.
    """

    def __init__(
        self,
        protocol: int,
        *,
        receive_buffer: int = 0,
        cap_ack: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        buffer_size: int = DEFAULT_BUFFER,
    ) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, protocol)
        try:
            self._sock.bind((0, 0))
            if receive_buffer:
                try:
                    self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, receive_buffer)
                except PermissionError:  # without CAP_NET_ADMIN: as much as rmem_max allows
                    self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            if cap_ack:
                self._sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
            self._sock.settimeout(timeout)
        except OSError:
            self._sock.close()
            raise
        self._timeout = timeout
        self._next = 1
        self._buffer = bytearray(buffer_size)
        self._view = memoryview(self._buffer)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Socket:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def sequence(self, count: int = 1) -> int:
        """The first of ``count`` fresh sequence numbers (a batch numbers its messages base + offset)."""
        first = self._next
        self._next = (first + count) & 0xFFFFFFFF or 1  # the header field is 32 bits; 0 reads as unset
        return first

    def send(self, blob: bytes) -> None:
        """One ``send()`` of one message or a batch; the kernel handles all of it before this returns."""
        self._sock.send(blob)

    def receive(self) -> memoryview:
        """One read (a view into the socket's buffer, valid until the next read).

        RepliesLost when the kernel dropped replies since the last read (ENOBUFS) or the datagram was larger
        than the buffer (its end is lost).
        """
        try:
            size = self._sock.recv_into(self._buffer, 0, socket.MSG_TRUNC)  # MSG_TRUNC: the datagram's real size
        except OSError as error:
            if error.errno == errno.ENOBUFS:
                raise RepliesLost(errno.ENOBUFS, "netlink replies lost: the receive buffer overflowed") from None
            raise
        if size > len(self._buffer):
            raise RepliesLost(errno.EMSGSIZE, f"netlink read of {size} bytes cut to {len(self._buffer)}")
        return self._view[:size]

    def acks_until(self, last: int) -> list[tuple[int, int]]:
        """(sequence number, errno) of every NLMSG_ERROR up to and including the one for ``last``.

        On RepliesLost the acks still queued are read without waiting and carried by the exception: the
        kernel queued every answer of a ``send()`` before it returned, so what is not there was dropped.
        """
        replies: list[tuple[int, int]] = []
        try:
            while True:
                for kind, _flags, seq, payload in messages(self.receive()):
                    if kind == NLMSG_ERROR:
                        replies.append((seq, error_code(payload)))
                        if seq == last:
                            return replies
        except RepliesLost as lost:
            self._drain_acks(last, replies)
            lost.replies = replies
            raise

    def _drain_acks(self, last: int, replies: list[tuple[int, int]]) -> None:
        """Add the acks already queued to ``replies``, without waiting, up to the one for ``last``."""
        self._sock.setblocking(False)
        try:
            while True:
                try:
                    data = self.receive()
                except (BlockingIOError, RepliesLost):
                    return
                for kind, _flags, seq, payload in messages(data):
                    if kind == NLMSG_ERROR:
                        replies.append((seq, error_code(payload)))
                        if seq == last:
                            return
        finally:
            self._sock.settimeout(self._timeout)

    def request(self, blob: bytes, seq: int) -> int:
        """Send one request that asks for an ack; the errno of its answer (0: done)."""
        self.send(blob)
        return self.acks_until(seq)[-1][1]  # the list ends with the ack of seq

    def dump(self, blob: bytes, seq: int, read: Callable[[memoryview], int | None]) -> int:
        """Send the dump request ``blob`` and hand each read to ``read`` until it returns the end's errno.

        ``read`` parses the replies of one read and returns None while the dump goes on, then 0 at its
        NLMSG_DONE or the errno of its NLMSG_ERROR (late answers to earlier requests are its to skip, by ``seq``).
        If ``read`` raises, or replies were lost, the rest of the dump is read and dropped before the error goes
        up: the kernel runs one dump per socket, and an unfinished one would answer the next with EBUSY.
        """
        self.send(blob)
        while True:
            try:
                data = self.receive()
            except RepliesLost:
                self._finish_dump(seq)
                raise
            try:
                code = read(data)
            except Exception:
                if not _ends(data, seq):
                    self._finish_dump(seq)
                raise
            if code is not None:
                return code

    def _finish_dump(self, seq: int) -> None:
        """Read and drop the rest of the dump ``seq``, up to its end."""
        while True:
            try:
                data = self.receive()
            except RepliesLost:
                continue  # the kernel paces a dump to the reader and never drops its replies: read on
            if _ends(data, seq):
                return

    def replies(self, blob: bytes, seq: int, *, dump: bool) -> tuple[int, list[bytes]]:
        """Send ``blob``; (errno, payloads of its replies): a dump's up to NLMSG_DONE, or a GET's one answer.

        The slow, general path (daemons, config, counters); dumps read by a parser per read use :meth:`dump`.
        """
        found: list[bytes] = []

        def read(data: memoryview) -> int | None:
            for kind, _flags, reply_seq, payload in messages(data):
                if reply_seq != seq:
                    continue  # a late answer to an earlier request
                if kind in (NLMSG_ERROR, NLMSG_DONE):
                    return error_code(payload)
                found.append(payload)
                if not dump:
                    return 0
            return None

        return self.dump(blob, seq, read), found


def _ends(data: memoryview, seq: int) -> bool:
    """Whether ``data`` holds the end of the dump ``seq``; a malformed read does not."""
    try:
        return end_of(data, seq) is not None
    except ValueError:
        return False

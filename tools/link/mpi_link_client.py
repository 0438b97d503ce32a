#!/usr/bin/env python3
"""A minimal client of the scanner's link (protocol/proto/mpi/link/v1/link.proto, docs/protocol.md).

Authenticates with the scanner's key, prints the board's description and its Status, then (as the
controller) configures one drive channel, runs a short scan and checks that the chunks of the sample
stream tile the stream's sample indices without a gap or an overlap. With --observer it only watches.

  mpi_link_client.py --connect HOST:PORT --key KEYFILE [--seconds 1] [--observer]

Needs Python 3, python3-protobuf and protoc: the message classes are generated from link.proto into a
temporary folder (or taken from --proto-out DIR, where protoc --python_out=DIR wrote them).
Exit status: 0 success, 1 failure (one line on stderr), 2 bad usage.
"""
import argparse
import hashlib
import hmac
import importlib.util
import os
import secrets
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time

try:
    from google.protobuf.message import DecodeError
except ImportError:
    sys.exit("mpi_link_client: python3-protobuf is missing (Debian: apt-get install python3-protobuf)")

PROTOCOL_VERSION = (1, 1, 0)  # mpi/protocol/version.hpp
MAX_FRAME_BYTES = 1 << 21     # mpi/protocol/framing.hpp: kMaxFrameBytes
NONCE_BYTES = 32              # mpi/protocol/auth.hpp: kNonceBytes, kProofBytes, kKeyMinBytes
PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../protocol/proto")  # where link.proto is


class LinkError(Exception):
    """A failure to report in one line (exit status 1)."""


def load_messages(proto_out, protoc):
    """Imports link_pb2 from proto_out, or generates it with protoc into a temporary folder first."""
    if proto_out is not None:
        return import_pb2(os.path.join(proto_out, "mpi/link/v1/link_pb2.py"))
    with tempfile.TemporaryDirectory(prefix="mpi-link-pb2-") as out:
        cmd = [protoc, "--python_out=" + out, "-I", PROTO_DIR, os.path.join(PROTO_DIR, "mpi/link/v1/link.proto")]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            raise LinkError("cannot generate the link messages with %s: %s" % (protoc, (getattr(e, "stderr", None) or str(e)).strip()))
        return import_pb2(os.path.join(out, "mpi/link/v1/link_pb2.py"))


def import_pb2(path):
    if not os.path.exists(path):
        raise LinkError("no link_pb2.py in %s" % os.path.dirname(path))
    spec = importlib.util.spec_from_file_location("link_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_key(path):
    """The key file: the key as hexadecimal text on one line, at least 64 digits (mpi/protocol/auth.hpp)."""
    with open(path, "r", encoding="ascii") as f:
        text = f.read().strip()
    if len(text) < 2 * NONCE_BYTES or len(text) % 2 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise ValueError("%s: not a key file (an even number, at least 64, of hexadecimal digits)" % path)
    return bytes.fromhex(text)


class Link:
    """One framed connection: each message is a 4-byte little-endian length and a serialised Envelope."""

    def __init__(self, pb, host, port, timeout):
        self.pb = pb
        self.next_id = 1
        try:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise LinkError("cannot connect to %s:%d: %s" % (host, port, e))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, envelope):
        payload = envelope.SerializeToString()
        self.sock.sendall(struct.pack("<I", len(payload)) + payload)

    def _read_exact(self, size):
        buffer = bytearray(size)
        view, got = memoryview(buffer), 0
        while got < size:
            try:
                n = self.sock.recv_into(view[got:])
            except socket.timeout:
                raise LinkError("the board sent nothing for %.0f s" % self.sock.gettimeout())
            if n == 0:
                raise LinkError("the board closed the connection")
            got += n
        return buffer

    def receive(self):
        (size,) = struct.unpack("<I", self._read_exact(4))
        if size > MAX_FRAME_BYTES:
            raise LinkError("frame of %d bytes exceeds the limit of %d" % (size, MAX_FRAME_BYTES))
        envelope = self.pb.Envelope()
        try:
            envelope.ParseFromString(bytes(self._read_exact(size)))
        except DecodeError as e:
            raise LinkError("malformed message from the board: %s" % e)
        return envelope

    def request(self, envelope, expected):
        """Sends a request and returns the reply's body `expected`; an Error reply raises LinkError."""
        envelope.request_id = self.next_id
        self.next_id += 1
        self.send(envelope)
        while True:
            reply = self.receive()
            body = reply.WhichOneof("body")
            if body == "error":
                raise LinkError(describe_error(self.pb, reply.error))
            if reply.request_id == envelope.request_id and body == expected:
                return getattr(reply, body)
            if body == "fault":
                print("fault: %s" % reply.fault.message)
            # anything else (field reports, chunks of a running scan) is not the reply


def describe_error(pb, error):
    return "board error %s: %s" % (pb.ErrorCode.Name(error.code), error.message)


def handshake(link, key, role):
    """Hello -> AuthChallenge -> AuthResponse -> HelloReply, both sides proving they hold the key."""
    pb = link.pb
    client_nonce = secrets.token_bytes(NONCE_BYTES)
    hello = pb.Envelope()
    hello.hello.protocol_major, hello.hello.protocol_minor, hello.hello.protocol_patch = PROTOCOL_VERSION
    hello.hello.client_name = "mpi_link_client.py"
    hello.hello.client_nonce = client_nonce
    hello.hello.role = role
    challenge = link.request(hello, "auth_challenge")
    if challenge.protocol_major != PROTOCOL_VERSION[0]:
        raise LinkError("the board speaks link protocol %d.x, this client %d.x" % (challenge.protocol_major, PROTOCOL_VERSION[0]))
    if len(challenge.server_nonce) != NONCE_BYTES or len(challenge.server_proof) != NONCE_BYTES:
        raise LinkError("malformed AuthChallenge (nonce or proof not %d bytes)" % NONCE_BYTES)
    expected = hmac.new(key, b"mpi-link server" + client_nonce + challenge.server_nonce, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, challenge.server_proof):
        raise LinkError("authentication failed: the board's proof does not match the key (another scanner's key?)")
    response = pb.Envelope()
    response.auth_response.client_proof = hmac.new(key, b"mpi-link client" + challenge.server_nonce + client_nonce,
                                                   hashlib.sha256).digest()
    return link.request(response, "hello_reply")


def print_board(pb, reply):
    b = reply.board
    print("board: %s, link protocol %d.%d.%d, capabilities [%s], role %s, session %d" % (
        reply.server_name, reply.protocol_major, reply.protocol_minor, reply.protocol_patch, ", ".join(reply.capabilities),
        pb.Role.Name(reply.role), reply.session_id))
    print("  ADC %.0f Hz, %d channels (%s), ring %d frames" % (
        b.adc_sample_rate_hz, b.adc_channels, ", ".join(b.adc_channel_names), b.ring_frames))
    print("  %d drive channel(s) up to %g T, DAC clock %.0f Hz, gradient %g T/m, heartbeat period %g s" % (
        b.drive_channels, b.drive_max_amplitude_t, b.dac_clock_hz, b.selection_gradient_t_per_m, b.heartbeat_period_s))


def print_status(pb, status):
    print("status: mode %s, state %s, scan %d, write pointer %d%s" % (
        pb.BoardMode.Name(status.mode), pb.ScanState.Name(status.state), status.scan_id, status.write_pointer,
        "".join(", fault: " + f.message for f in status.faults)))


def scan(link, board, args):
    """Configures drive channel 0, streams `seconds` of samples at full field and checks the indices."""
    pb = link.pb
    rate = board.adc_sample_rate_hz
    configure = pb.Envelope()
    configure.configure.drive.add(channel=0, frequency_hz=args.frequency, amplitude_t=args.amplitude, phase_rad=0.0)
    configure.configure.ramp_samples = max(1, round(rate * 1e-3))  # 1 ms ramps
    configure.configure.chunk_samples = 0                           # the board's default
    realised = link.request(configure, "configure_reply")
    for d in realised.drive:
        print("configured: drive %d at %.6f Hz, %g T; ramp %d samples, chunks of %d samples" % (
            d.channel, d.frequency_hz, d.amplitude_t, realised.ramp_samples, realised.chunk_samples))
    start = pb.Envelope()
    start.start.max_samples = round(args.seconds * rate)
    print_status(pb, link.request(start, "status"))

    expected_next, chunks, faults = 0, 0, []
    while True:
        message = link.receive()
        body = message.WhichOneof("body")
        if body == "chunk":
            c = message.chunk
            if c.first_sample != expected_next:
                raise LinkError("chunk %d starts at sample %d, expected %d (%s)" % (
                    chunks, c.first_sample, expected_next, "gap" if c.first_sample > expected_next else "overlap"))
            if c.channel_count != board.adc_channels or len(c.payload) != c.sample_count * c.channel_count * 2:
                raise LinkError("chunk %d: %d payload bytes for %d samples of %d channels" % (
                    chunks, len(c.payload), c.sample_count, c.channel_count))
            if c.flags & (pb.CHUNK_FLAG_OVERWRITTEN | pb.CHUNK_FLAG_CORRUPTED):
                raise LinkError("chunk %d at sample %d: samples lost (flags %d)" % (chunks, c.first_sample, c.flags))
            expected_next += c.sample_count
            chunks += 1
        elif body == "stream_end":
            end = message.stream_end
            print("stream end: %s at sample %d (full field from %d to %d)" % (
                end.reason, end.end_sample, end.ramp_up_end_sample, end.ramp_down_start_sample))
            if end.end_sample != expected_next:
                raise LinkError("the stream ends at sample %d, the chunks at %d" % (end.end_sample, expected_next))
            break
        elif body == "fault":
            faults.append(message.fault.message)
            print("fault: %s %s" % (pb.FaultKind.Name(message.fault.kind), message.fault.message))
        elif body == "error":
            raise LinkError(describe_error(pb, message.error))
    print("samples received: %d (%d chunks, %d channels)" % (expected_next, chunks, board.adc_channels))
    if expected_next < args.seconds * rate:
        raise LinkError("the stream ended after %d samples, fewer than the %d asked for" % (expected_next, args.seconds * rate))
    if faults:
        raise LinkError("the scan was ended by a safety fault: %s" % faults[0])
    print("indices contiguous")


def observe(link, seconds):
    """Counts what an observer receives for `seconds`: the data stream of a running scan, faults, ends."""
    deadline, samples = time.monotonic() + seconds, 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([link.sock], [], [], left)[0]:
            break
        message = link.receive()
        body = message.WhichOneof("body")
        if body == "chunk":
            samples += message.chunk.sample_count
        elif body in ("fault", "stream_end", "error"):
            print("%s: %s" % (body, str(getattr(message, body)).replace("\n", " ")))
    print("observed: %d samples in %g s" % (samples, seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, metavar="HOST:PORT")
    parser.add_argument("--key", required=True, metavar="KEYFILE", help="the scanner's link key (hex)")
    parser.add_argument("--seconds", type=float, default=1.0, help="samples to stream at full field, in seconds")
    parser.add_argument("--observer", action="store_true", help="attach as an observer: status and stream only")
    # configs/scanners/demo-1d.toml: drive x at 15.625 MHz / 625 = 25 kHz, at most 16 mT (its sequence: 12 mT)
    parser.add_argument("--frequency", type=float, default=25e3, help="drive channel 0's frequency in Hz")
    parser.add_argument("--amplitude", type=float, default=12e-3, help="drive channel 0's amplitude in T")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the board")
    parser.add_argument("--proto-out", metavar="DIR", help="where protoc --python_out wrote mpi/link/v1/link_pb2.py")
    parser.add_argument("--protoc", default="protoc", help="protoc to generate it with (default: on PATH)")
    args = parser.parse_args()
    host, _, port = args.connect.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        parser.error("--connect %s: expected HOST:PORT" % args.connect)
    if not args.seconds > 0 or not args.amplitude > 0 or not args.frequency > 0:
        parser.error("--seconds, --frequency and --amplitude must be positive")
    try:
        key = load_key(args.key)
    except (OSError, ValueError) as e:
        parser.error(str(e))

    try:
        pb = load_messages(args.proto_out, args.protoc)
        link = Link(pb, host.strip("[]"), int(port), args.timeout)
        reply = handshake(link, key, pb.ROLE_OBSERVER if args.observer else pb.ROLE_CONTROLLER)
        print_board(pb, reply)
        print_status(pb, link.request(pb.Envelope(status_request=pb.StatusRequest()), "status"))
        if args.observer:
            observe(link, args.seconds)
        else:
            scan(link, reply.board, args)
    except LinkError as e:
        print("mpi_link_client: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:
        print("mpi_link_client: link: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Runs moto in server mode on loopback for the forensics emulator harness.

Prints the bound port on the first line of stdout, then blocks reading stdin. When the
parent process exits (normally, by a crash, or by a signal) the pipe closes and this
process stops the server and exits, so no orphan emulator is ever left behind.

Two corrections to moto (README "Emulator gaps"):

- S3 conditional writes (`If-None-Match`, `If-Match`) are check-then-act in moto, so two
  concurrent conditional PUTs of one key can both succeed under load, where S3 lets exactly
  one win. The custody chain and capture idempotency rely on S3's guarantee, so conditional
  writes are serialized here.
- An EventBridge rule whose matching event has a Lambda function target makes moto raise
  NotImplementedError (PutEvents answers 500), also when the event arrived from another
  account's forwarding rule. moto never runs Lambda code anyway: the event each such target
  would receive is put, with the function ARN, on the SQS queue `emulator-lambda-deliveries`
  of the rule's account and region when that queue exists (a local runtime drains it and
  runs the function), and is otherwise dropped with a log line. Other targets are untouched.

Speed-ups that change no answer (a profile of the suite's emulator put a third of its CPU in
the first two): moto looks up the service of every request by listing and stat-ing its own
package directory, twice per request — the list is computed once here; and it renders every
timestamp by re-parsing an ISO-8601 string with dateutil — strict UTC ISO-8601 strings are
parsed with `datetime.fromisoformat` here, everything else still goes to dateutil. An
aws-chunked request body (a streamed upload with a trailing checksum) was decoded by appending
each chunk to an immutable bytes object, copying everything decoded so far per chunk (a
256 MiB upload in 1 MiB chunks copied 32 GiB); the chunks are joined once here, and the
trailing checksum is looked for in the trailer instead of by a regex over the whole body.
werkzeug read an HTTP-chunked request body 8 KiB at a time through Python code (16,384 calls
for 128 MiB); it is read a chunk at a time here. Every request looks up the account of its
access key in each partition's IAM backend of every account, creating the backends of all six
partitions on the way (with AWS-managed policies loaded, each parses and copies ~1,500 policies:
a quarter of the rehearsal emulator's CPU); only backends that exist are searched here (one not
created holds no access key). Every error answer rebuilt the table of the service's error
shapes (a new lookup factory, with its cache, per error); one factory is kept here.

Keep-alive (also a speed-up that changes no answer): werkzeug's development server closes the
connection after every response (it cannot tell where a request body it did not read ends),
so every SDK request paid a new TCP connection and moto a new thread. Here each request body
ends at its Content-Length (or werkzeug's de-chunking) and is drained after the response, so
the connection can carry the next request; werkzeug's own after-response drain, which would
swallow that next request, is disabled. A client asking for `Connection: close` gets it, and an
idle connection ends after two minutes. On a kept-alive connection Nagle's algorithm held each
response body back until the client's delayed ACK of the headers (40 ms on Linux: a GET or a
List took ~50 ms instead of ~8 ms), so the server's sockets set TCP_NODELAY.

Fork-server mode (`moto_runner.py --fork-server SOCKET`, started once by `npm test`): Python
imports moto, the patches above and the services the project calls once, then forks one fresh
emulator per connection to the Unix socket instead of every test file paying the start-up
again (the routes and answer models moto derives from botocore's JSON on a service's first
request are derived there too: ~0.05 s of CPU less per emulator). A forked emulator is a new
process with nothing in it but what a fresh `moto_runner.py` has after its first request; its
life is bound to the connection that asked for it (the requester's end closing, by exit, crash
or SIGKILL, stops it), as the stdin pipe binds it otherwise. The fork server itself stops when its stdin closes.
"""
import copy
import io
import json
import os
import random
import re
import selectors
import signal
import socket
import sys
import threading
from datetime import datetime

import werkzeug.serving
from werkzeug.serving import WSGIRequestHandler, make_server

import moto
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_CONDITIONAL_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH")


class SerializeConditionalWrites:
    """WSGI middleware: one conditional write (PUT/POST with If-None-Match/If-Match) at a time."""

    def __init__(self, app):
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        conditional = environ.get("REQUEST_METHOD") in ("PUT", "POST") and any(
            h in environ for h in _CONDITIONAL_HEADERS
        )
        if not conditional:
            return self._app(environ, start_response)
        with self._lock:
            # the whole response is produced under the lock: moto's check and its write
            # happen while the request is handled, before the body iterable is returned
            return list(self._app(environ, start_response))


class _CountingInput:
    """The connection's input as werkzeug hands it to the app, counting the bytes read from it."""

    def __init__(self, raw):
        self._raw = raw
        self.count = 0

    def read(self, size=-1):
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer):
        n = self._raw.readinto(buffer) or 0
        self.count += n
        return n

    def readline(self, size=-1):
        data = self._raw.readline(size)
        self.count += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._raw, name)


class KeepAliveBodies:
    """WSGI middleware: what the app left of a request body is read after the response."""

    def __init__(self, app):
        self._app = app

    def __call__(self, environ, start_response):
        chunked = bool(environ.get("wsgi.input_terminated"))  # werkzeug de-chunks it; it ends itself
        counting = None
        if not chunked:
            counting = _CountingInput(environ["wsgi.input"])
            environ["wsgi.input"] = counting
        try:
            # the whole answer is produced here, on the connection's thread (moto's answers
            # are in memory anyway), so the body is drained before the next request is read
            result = self._app(environ, start_response)
            try:
                out = list(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            if chunked:
                while environ["wsgi.input"].read(1 << 20):
                    pass
            else:
                left = max(0, int(environ.get("CONTENT_LENGTH") or 0)) - counting.count
                while left > 0:
                    data = counting.read(min(left, 1 << 20))
                    if not data:
                        raise ConnectionError("the client went away before its whole body arrived")
                    left -= len(data)
        except BaseException:
            # a request that failed or a body that cannot be drained ends its connection
            environ[_CLOSE_AFTER_RESPONSE] = True
            raise
        return out


_CLOSE_AFTER_RESPONSE = "emulator.close_after_response"


class KeepAliveRequestHandler(WSGIRequestHandler):
    """Keeps HTTP/1.1 connections open unless the client asks to close (see the module comment)."""

    timeout = 120

    def setup(self):
        super().setup()
        # headers and body go out in two writes: with Nagle's algorithm on, the body waits
        # for the client's delayed ACK of the headers (40 ms on Linux) on a kept-alive
        # connection; every GET and List paid it
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self):
        super().run_wsgi()
        if getattr(self, "environ", {}).get(_CLOSE_AFTER_RESPONSE):
            self.close_connection = True

    def send_header(self, keyword, value):
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        super().send_header(keyword, value)

    def log(self, type, message, *args):
        # werkzeug's own line, written straight to stderr: its route (the logging module's
        # locks and colorama's scan of every line for ANSI codes) cost more CPU than many
        # of moto's answers (a profile of the fault suite's emulator: a fifth of its CPU)
        line = f"{self.address_string()} - - [{self.log_date_time_string()}] {message % args if args else message}\n"
        sys.stderr.write(line)


class _NoAfterResponseDrain:
    """Stands in for werkzeug's selector that reads whatever follows a response (the next request)."""

    def register(self, *_args, **_kwargs):
        return None

    def select(self, timeout=None):
        return []

    def close(self):
        return None


def keep_connections_alive() -> None:
    werkzeug.serving.selectors = type("selectors", (), {"DefaultSelector": _NoAfterResponseDrain, "EVENT_READ": selectors.EVENT_READ})


LAMBDA_DELIVERY_QUEUE = "emulator-lambda-deliveries"


def deliver_lambda_targets_to_a_queue() -> None:
    """Patches moto's EventBridge rule delivery; see the module comment."""
    from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp
    from moto.events import models as events
    from moto.sqs import sqs_backends
    from moto.utilities.arns import parse_arn

    original = events.Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        lambda_targets = [t for t in self.targets if parse_arn(t["Arn"]).service == "lambda"]
        if not lambda_targets:
            return original(self, original_event, transform_input)
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in lambda_targets]
        original(others, original_event, transform_input)
        if not self.event_pattern.matches_event(original_event):
            return
        event = copy.deepcopy(original_event)
        if "time" in event and not isinstance(event["time"], str):
            event["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(float(event["time"])))
        backend = sqs_backends[self.account_id][self.region_name]
        for target in lambda_targets:
            payload = json.loads(target["Input"]) if "Input" in target else event
            body = json.dumps({"rule": self.arn, "targetId": target["Id"], "functionArn": target["Arn"], "event": payload})
            if LAMBDA_DELIVERY_QUEUE in backend.queues:
                backend.send_message(LAMBDA_DELIVERY_QUEUE, body)
            else:
                print(f"[emulator] rule {self.arn}: event for Lambda target {target['Arn']} dropped "
                      f"(no {LAMBDA_DELIVERY_QUEUE} queue in {self.account_id}/{self.region_name})", file=sys.stderr, flush=True)

    events.Rule.send_to_targets = send_to_targets


def cache_service_lookups() -> None:
    """moto's list of its own service modules, computed once (see the module comment)."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


_UTC_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?(Z|\+00:00)")


def parse_utc_timestamps_fast() -> None:
    """Strict UTC ISO-8601 timestamps without dateutil (see the module comment)."""
    from dateutil.tz import tzutc
    from moto.core import serialize

    original = serialize.parse_to_aware_datetime
    utc = tzutc()

    def parse_to_aware_datetime(value):
        if isinstance(value, str) and _UTC_ISO8601.fullmatch(value):
            return datetime.fromisoformat(value[:-1] if value.endswith("Z") else value[:-6]).replace(tzinfo=utc)
        return original(value)

    serialize.parse_to_aware_datetime = parse_to_aware_datetime


# moto's pattern for a trailing checksum line (S3Response._get_checksum)
TRAILER_CHECKSUM = re.compile(rb"x-amz-checksum-\w+:(.+={1,2})")


def decode_aws_chunked_linearly() -> None:
    """aws-chunked bodies decoded in linear time, their trailer read where it is (see the module comment)."""
    from moto.s3.responses import S3Response

    original_get_checksum = S3Response._get_checksum

    def _handle_encoded_body(self, body):
        if not body:
            return b""
        if not isinstance(body, bytes):
            body = body.read()
        # '{hex length}\r\n{data}\r\n' per chunk until a zero length, then the trailer;
        # the chunks are sliced from the body without copying and joined once
        view = memoryview(body)
        parts = []
        at = 0
        while True:
            eol = body.index(b"\r\n", at)
            content_length = int(body[at:eol].strip(), 16)
            at = eol + 2
            if content_length <= 0:
                break
            parts.append(view[at : at + content_length])
            at = body.index(b"\n", at + content_length) + 1
        self._aws_chunked_trailer = body[at:]
        return b"".join(parts)

    def _get_checksum(self, response_headers):
        trailer = getattr(self, "_aws_chunked_trailer", None)
        if trailer is None or not TRAILER_CHECKSUM.search(trailer):
            return original_get_checksum(self, response_headers)
        # moto searches the whole raw body for the trailer's checksum line (a regex over
        # every uploaded byte); it is in the trailer, after the last chunk, and is found
        # there (without one, moto's own search runs as before)
        raw_body = self.raw_body
        self.raw_body = trailer
        try:
            return original_get_checksum(self, response_headers)
        finally:
            self.raw_body = raw_body

    S3Response._handle_encoded_body = _handle_encoded_body
    S3Response._get_checksum = _get_checksum


def read_chunked_bodies_whole() -> None:
    """A chunked request body is read chunk by chunk, not 8 KiB at a time (see the module comment)."""
    from werkzeug.serving import DechunkedInput

    def readall(self):
        parts = []
        while not self._done:
            if self._len == 0:
                self._len = self.read_chunk_len()
                if self._len == 0:
                    self._done = True
            if self._len > 0:
                data = self._rfile.read(self._len)
                if len(data) < self._len:
                    raise OSError("the chunked body ended inside a chunk")
                parts.append(data)
                self._len = 0
            terminator = self._rfile.readline(2)
            if terminator not in (b"\n", b"\r\n", b"\r"):
                raise OSError("Missing chunk terminating newline")
        return b"".join(parts)

    def read(self, size=-1):
        if size is None or size < 0:
            return readall(self)
        return io.RawIOBase.read(self, size)

    DechunkedInput.readall = readall
    DechunkedInput.read = read


def look_up_access_keys_in_existing_backends() -> None:
    """The account of an access key, found without creating IAM backends (see the module comment)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam_models

    def get_account_id_from(access_key: str) -> str:
        for account_id, account in list(iam_models.iam_backends.items()):
            # the partitions' backends created so far: one not created yet holds no access key
            for backend in list(dict.values(account)):
                if access_key in backend.access_keys:
                    return account_id
        return DEFAULT_ACCOUNT_ID

    iam_models.get_account_id_from = get_account_id_from


def share_error_lookups() -> None:
    """One table of a service's error shapes per emulator (see the module comment)."""
    from moto.core import errors

    shared = errors.ErrorLookupFactory()
    errors.ErrorLookupFactory = lambda: shared


def patch_moto() -> None:
    keep_connections_alive()
    look_up_access_keys_in_existing_backends()
    share_error_lookups()
    decode_aws_chunked_linearly()
    read_chunked_bodies_whole()
    cache_service_lookups()
    parse_utc_timestamps_fast()
    deliver_lambda_targets_to_a_queue()


def serve(dispatcher: DomainDispatcherApplication, port: int, wait_for_eof) -> None:
    """Serves on loopback, announces `PORT VERSION PID` through `announce`, stops at EOF."""
    server = make_server("127.0.0.1", port, KeepAliveBodies(SerializeConditionalWrites(dispatcher)), threaded=True, request_handler=KeepAliveRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_for_eof(f"{server.server_port} {moto.__version__} {os.getpid()}")
    finally:
        server.shutdown()
        thread.join()


# the services the project's code and tests call (others still load on their first request)
WARM_SERVICES = ("s3", "sts", "kms", "lambda", "events", "sqs", "iam", "cloudtrail", "sns", "scheduler", "moto_api")


# what moto derives on a service's first request, from the botocore model it reads from JSON
# (its operations' routes, per region, and the model the answers are serialized with): derived
# once here, inherited by every fork instead of each emulator paying it again
WARM_REGIONS = ("us-east-1", "eu-west-1")


def warm_service_models() -> None:
    from moto.core.responses import _get_method_urls
    from moto.core.utils import get_service_model

    for service in WARM_SERVICES:
        if service == "moto_api":
            continue
        get_service_model(service)
        for region in WARM_REGIONS:
            # moto's Lambda answers name their service "awslambda"
            _get_method_urls("awslambda" if service == "lambda" else service, region)


def fork_server(path: str) -> None:
    """Forks one emulator per connection to the Unix socket `path` (see the module comment)."""
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for service in WARM_SERVICES:
        dispatcher.app_instances[service] = create_backend_app(service)
    warm_service_models()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked emulators are reaped by the kernel
    print("ready", flush=True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    try:
        while True:
            for key, _ in selector.select():
                if key.fileobj is sys.stdin:
                    if not sys.stdin.readline():
                        return
                    continue
                conn, _ = listener.accept()
                if os.fork() == 0:
                    selector.close()
                    listener.close()
                    emulator_child(conn, dispatcher)
                conn.close()
    finally:
        listener.close()
        if os.path.exists(path):
            os.unlink(path)


def emulator_child(conn: socket.socket, dispatcher: DomainDispatcherApplication) -> None:
    """In a forked child: read the request line, serve until the requester hangs up, exit."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        stream = conn.makefile("rwb", buffering=0)
        request = json.loads(stream.readline() or b"{}")
        log = os.open(request.get("log", os.devnull), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.environ.update({str(k): str(v) for k, v in request.get("env", {}).items()})
        # a fork shares its parent's random state: every emulator would mint the same ids
        random.seed()
        from moto.moto_api._internal import mock_random
        mock_random.seed()

        def announce_then_wait(line: str) -> None:
            stream.write(line.encode() + b"\n")
            while stream.read(4096):
                pass

        serve(dispatcher, 0, announce_then_wait)
    except BaseException as err:  # noqa: BLE001 - reported in the emulator log, then exit
        print(f"[emulator] forked emulator failed: {err!r}", file=sys.stderr, flush=True)
        code = 1
    finally:
        os._exit(code)


def main() -> None:
    patch_moto()
    if len(sys.argv) > 2 and sys.argv[1] == "--fork-server":
        fork_server(sys.argv[2])
        return
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0

    def announce_then_wait(line: str) -> None:
        print(line, flush=True)
        sys.stdin.read()

    serve(DomainDispatcherApplication(create_backend_app), port, announce_then_wait)


if __name__ == "__main__":
    main()

"""Runs moto in server mode on loopback for the forensics emulator harness.

Prints the bound port on the first line of stdout, then blocks reading stdin. When the
parent process exits (normally, by a crash, or by a signal) the pipe closes and this
process stops the server and exits, so no orphan emulator is ever left behind.

One correction to moto (README "Emulator gaps"): S3 conditional writes (`If-None-Match`,
`If-Match`) are check-then-act in moto, so two concurrent conditional PUTs of one key can
both succeed under load, where S3 lets exactly one win. The custody chain and capture
idempotency rely on S3's guarantee, so conditional writes are serialized here.
"""
import sys
import threading

from werkzeug.serving import make_server

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


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    app = SerializeConditionalWrites(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(f"{server.server_port} {moto.__version__}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.shutdown()
        thread.join()


if __name__ == "__main__":
    main()

"""Runs moto in server mode on loopback for the forensics emulator harness.

Prints the bound port on the first line of stdout, then blocks reading stdin. When the
parent process exits (normally, by a crash, or by a signal) the pipe closes and this
process stops the server and exits, so no orphan emulator is ever left behind.
"""
import sys

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # werkzeug picked a free port when asked for 0
    bound = server._server.server_port  # noqa: SLF001 - moto exposes no public accessor
    import moto

    print(f"{bound} {moto.__version__}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()

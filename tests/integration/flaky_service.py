"""A tiny stand-in for one of the stack's servers, for the supervisor's tests.

    python tests/integration/flaky_service.py PORT STATE_DIR [options]

Answers GET /health with 200 on 127.0.0.1:PORT. Every start appends its pid and time to
STATE_DIR/starts (so a test sees each restart and when it came). Options:

  --crash-after S     exit S seconds after it answers health checks (with --exit-code)
  --crash-starts N    only the first N starts crash (0: every start)
  --exit-code C       exit code of a crash (default 3)
  --slow-restart S    every start after the first waits S seconds before it listens
  --fail-start        exit at once, before listening (a process that cannot start)
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--crash-after", type=float)
    parser.add_argument("--crash-starts", type=int, default=0)
    parser.add_argument("--exit-code", type=int, default=3)
    parser.add_argument("--slow-restart", type=float, default=0.0)
    parser.add_argument("--fail-start", action="store_true")
    args = parser.parse_args()

    args.state_dir.mkdir(parents=True, exist_ok=True)
    starts = args.state_dir / "starts"
    with open(starts, "a") as log:
        log.write(f"{os.getpid()} {time.time():.3f}\n")
    number = len(starts.read_text().splitlines())
    print(f"start {number} (pid {os.getpid()})", flush=True)
    if args.fail_start:
        print("cannot start", flush=True)
        sys.exit(args.exit_code)
    if number > 1 and args.slow_restart:
        time.sleep(args.slow_restart)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("listening", flush=True)
    crashes = args.crash_after is not None and (
        args.crash_starts == 0 or number <= args.crash_starts
    )
    if crashes:
        time.sleep(args.crash_after)
        print(f"crashing with code {args.exit_code}", flush=True)
        os._exit(args.exit_code)
    threading.Event().wait()


if __name__ == "__main__":
    main()

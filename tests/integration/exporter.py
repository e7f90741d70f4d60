#!/usr/bin/python3 -S
# A test exporter whose values the test controls: GET /metrics answers the
# concatenation of DIR/*.prom (Prometheus text format, written by the test);
# DIR/sleep holds seconds to wait before each answer (a slow target).
# Prints "port N" once listening on 127.0.0.1 (port 0: any free one).
import http.server
import os
import sys
import time

port, d = int(sys.argv[1]), sys.argv[2]


class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            with open(os.path.join(d, "sleep")) as f:
                time.sleep(float(f.read().strip() or 0))
        except (OSError, ValueError):
            pass
        body = b""
        for name in sorted(os.listdir(d)):
            if name.endswith(".prom"):
                with open(os.path.join(d, name), "rb") as f:
                    body += f.read()
        self.send_response(200 if self.path.startswith("/metrics") else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
print("port", s.server_address[1], flush=True)
s.serve_forever()

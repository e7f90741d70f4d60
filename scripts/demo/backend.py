#!/usr/bin/env python3
"""A demo HTTP backend: answers every request with its version, exports
http_requests_total{variant,version,code} for Prometheus on /metrics (a
second port), and answers 500 while FAULT_FILE exists (a failure only the
HTTP counters show: the TCP connection itself is fine).

backend.py NAME VARIANT VERSION PORT METRICS_PORT FAULT_FILE
"""
import http.server, os, sys, threading

name, variant, version = sys.argv[1:4]
port, mport, fault = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
counts = {}
lock = threading.Lock()


class App(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        code = 500 if os.path.exists(fault) else 200
        body = ("%s %s %s\n" % (name, version, "error" if code == 500 else "ok")).encode()
        with lock:
            counts[code] = counts.get(code, 0) + 1
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Version", version)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class Metrics(App):
    def do_GET(self):
        with lock:
            snap = dict(counts)
        lines = ["# HELP http_requests_total HTTP requests answered, by code.",
                 "# TYPE http_requests_total counter"]
        for code in (200, 500):
            lines.append('http_requests_total{backend="%s",variant="%s",version="%s",code="%d"} %d'
                         % (name, variant, version, code, snap.get(code, 0)))
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


m = Server(("0.0.0.0", mport), Metrics)
threading.Thread(target=m.serve_forever, daemon=True).start()
Server(("0.0.0.0", port), App).serve_forever()

#!/usr/bin/env python3
"""egress_server.py - the HTTP(S) server tests/integration/egress.sh and
bench/egress.sh call through uf_http.

usage: egress_server.py PORTFILE LOGFILE [CERT KEY]
Listens on 127.0.0.1 (an ephemeral port, written to PORTFILE once ready),
with TLS when CERT and KEY are given.  Each request's method and path are
appended to LOGFILE (so a test can tell the server was never contacted).
Paths:
  /.../hello        200 "hello egress", X-Test: key=<Idempotency-Key>
  /.../post         200 "<method> <body> X-From=<X-From>"
  /.../big?n=N      200, N bytes (byte i is i % 251), with Content-Length
  /.../stream?n=N   200, N bytes, no Content-Length (connection closes)
  /.../hang         sends nothing for 60 s
  /.../redirect     302 to https://example.invalid/
  /.../webhook      200 "ok"; the log line also has key=<Idempotency-Key>
                    and body=<the request body>
"""
import http.server
import os
import ssl
import sys
import time
from urllib.parse import parse_qs, urlparse


def pattern(n):
    block = bytes(i % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms a request on keep-alive)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def note(self):
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))

    def send(self, code, body, headers=(), length=True):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        self.note()
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path.endswith("/hello"):
            key = self.headers.get("Idempotency-Key", "-")
            self.send(200, b"hello egress", [("X-Test", "key=" + key)])
        elif u.path.endswith("/post"):
            frm = self.headers.get("X-From", "-")
            self.send(200, ("%s %s X-From=%s" % (self.command, body.decode(), frm)).encode())
        elif u.path.endswith("/big"):
            self.send(200, pattern(int(q["n"][0])))
        elif u.path.endswith("/stream"):
            self.send(200, pattern(int(q["n"][0])), length=False)
        elif u.path.endswith("/hang"):
            time.sleep(60)
        elif u.path.endswith("/webhook"):
            with open(LOG, "a") as f:
                f.write("WEBHOOK key=%s body=%s\n" % (self.headers.get("Idempotency-Key", "-"), body.decode()))
            self.send(200, b"ok")
        elif u.path.endswith("/redirect"):
            self.send(302, b"", [("Location", "https://example.invalid/")])
        else:
            self.send(404, b"no such path")

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


if __name__ == "__main__":
    portfile, LOG = sys.argv[1], sys.argv[2]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    if len(sys.argv) > 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    open(LOG, "a").close()
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()

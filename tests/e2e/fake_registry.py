#!/usr/bin/env python3
"""fake_registry.py - a registry that only counts what it is asked.

    fake_registry.py PORT LOG [--repos N] [--extra NAME]...

Serves GET /v2/_catalog with a large catalog it never stores (N names
"hidden/00000"... plus the --extra names, sorted) with n/last pagination and
Link headers as the distribution registry does, answers every HEAD/GET of a
manifest with 404 and /v2/ with 200, and writes one line per request to LOG:
"METHOD PATH?QUERY". Lets a test count the calls ocigate makes.
"""
import argparse
import bisect
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("log")
    ap.add_argument("--repos", type=int, default=20000)
    ap.add_argument("--extra", action="append", default=[])
    a = ap.parse_args()
    names = sorted(["hidden/%05d" % i for i in range(a.repos)] + a.extra)
    log = open(a.log, "a", buffering=1)

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, code, body=b"", headers=()):
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def handle_any(self):
            log.write("%s %s\n" % (self.command, self.path))
            u = urlsplit(self.path)
            if u.path == "/v2/_catalog" and self.command == "GET":
                q = parse_qs(u.query)
                n = int(q.get("n", ["100"])[0])
                last = q.get("last", [""])[0]
                start = bisect.bisect_right(names, last) if last else 0
                page = names[start:start + n]
                headers = []
                if start + n < len(names) and page:
                    headers.append(("Link", '</v2/_catalog?last=%s&n=%d>; rel="next"'
                                    % (page[-1], n)))
                body = json.dumps({"repositories": page}).encode()
                headers.append(("Content-Type", "application/json"))
                return self.answer(200, body, headers)
            if u.path == "/v2/":
                return self.answer(200, b"{}", [("Content-Type", "application/json")])
            return self.answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}',
                               [("Content-Type", "application/json")])

        do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = handle_any

    ThreadingHTTPServer(("127.0.0.1", a.port), H).serve_forever()


if __name__ == "__main__":
    sys.exit(main())

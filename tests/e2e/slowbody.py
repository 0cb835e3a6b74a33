#!/usr/bin/env python3
"""slowbody.py - a client that sends its request body one byte (or --chunk bytes) at a time.

    slowbody.py http HOST PORT METHOD PATH [-H 'Name: value']... [options]
    slowbody.py fcgi SOCKET METHOD PATH [-p NAME=VALUE]... [options]

http: an HTTP/1.1 request to a web server (Content-Length announced, the
body trickled). fcgi: a FastCGI RESPONDER request straight to ocigate's unix
socket, without a web server (FCGI_PARAMS at once, FCGI_STDIN one byte per
record). Either way it stops sending as soon as an answer arrives, reads the
answer to its end and writes one line to --out:

    status=NNN complete=0|1 elapsed_ms=N sent=N

then the answer's body. complete=1 means the whole answer arrived (HTTP: the
announced Content-Length or the chunked end; FastCGI: FCGI_END_REQUEST).
"""
import argparse
import select
import socket
import struct
import sys
import time

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def record(rtype, content, req_id=1):
    return struct.pack(">BBHHBx", 1, rtype, req_id, len(content), 0) + content


def nv(name, value):
    out = b""
    for s in (name, value):
        n = len(s)
        out += bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return out + name + value


class Answer:
    def __init__(self):
        self.raw = b""
        self.done = False


def http_done(raw):
    """(complete, status, body) of an HTTP answer received so far."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return False, 0, b""
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return False, 0, b""
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower()] = v.strip()
    if b"content-length" in headers:
        n = int(headers[b"content-length"])
        return len(rest) >= n, status, rest[:n]
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body, p = b"", rest
        while True:
            size_line, sep2, p2 = p.partition(b"\r\n")
            if not sep2:
                return False, status, body
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                return True, status, body
            if len(p2) < size + 2:
                return False, status, body
            body += p2[:size]
            p = p2[size + 2:]
    return False, status, rest


def fcgi_parse(raw):
    """(complete, stdout bytes) of FastCGI records received so far."""
    out, p = b"", 0
    while len(raw) - p >= 8:
        _, rtype, _, clen, plen = struct.unpack(">BBHHBx", raw[p:p + 8])
        if len(raw) - p < 8 + clen + plen:
            break
        content = raw[p + 8:p + 8 + clen]
        p += 8 + clen + plen
        if rtype == FCGI_STDOUT:
            out += content
        elif rtype == FCGI_END_REQUEST:
            return True, out
    return False, out


def fcgi_status(stdout):
    head, _, body = stdout.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            try:
                return int(line.split()[1]), body
            except (IndexError, ValueError):
                pass
    return 0, body


def run(sock, first, trickle, length, interval, parse, limit):
    t0 = time.monotonic()
    raw, sent, sending = b"", 0, True
    try:
        sock.sendall(first)
    except OSError:
        sending = False
    while time.monotonic() - t0 < limit:
        if sending and sent < length:
            try:
                piece = trickle(sent)
                sock.sendall(piece[0])
                sent += piece[1]
            except OSError:
                sending = False
        r, _, _ = select.select([sock], [], [], interval)
        if r:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            raw += chunk
            sending = False            # an answer is coming: stop sending
            if parse(raw)[0]:
                break
    return raw, sent, int((time.monotonic() - t0) * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["http", "fcgi"])
    ap.add_argument("where", nargs="+")
    ap.add_argument("-H", dest="headers", action="append", default=[])
    ap.add_argument("-p", dest="params", action="append", default=[])
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--limit", type=float, default=30.0, help="seconds before giving up")
    ap.add_argument("--chunk", type=int, default=1, help="body bytes per send (at most 65535)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    prefix = b'{"label":"'
    def byte_at(i):
        n = max(1, min(a.chunk, 65535, a.length - i))
        head = prefix[i:i + n]
        return head + b"x" * (n - len(head))

    if a.mode == "http":
        host, port, method, path = a.where
        sock = socket.create_connection((host, int(port)))
        head = "%s %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n" \
               "Content-Length: %d\r\nConnection: close\r\n" % (method, path, host, port, a.length)
        head += "".join(h + "\r\n" for h in a.headers) + "\r\n"
        raw, sent, ms = run(sock, head.encode(), lambda i: (byte_at(i), len(byte_at(i))), a.length,
                            a.interval, http_done,
                            a.limit)
        complete, status, body = http_done(raw)
    else:
        path_sock, method, path = a.where
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path_sock)
        params = {"FCGI_ROLE": "RESPONDER", "REQUEST_METHOD": method, "REQUEST_URI": path,
                  "SCRIPT_NAME": path, "CONTENT_TYPE": "application/json",
                  "CONTENT_LENGTH": str(a.length), "REMOTE_ADDR": "127.0.0.1",
                  "SERVER_PROTOCOL": "HTTP/1.1"}
        for kv in a.params:
            k, _, v = kv.partition("=")
            params[k] = v
        body_nv = b"".join(nv(k.encode(), v.encode()) for k, v in params.items())
        first = record(FCGI_BEGIN_REQUEST, struct.pack(">HB5x", 1, 0)) + \
            record(FCGI_PARAMS, body_nv) + record(FCGI_PARAMS, b"")
        raw, sent, ms = run(sock, first, lambda i: (record(FCGI_STDIN, byte_at(i)), len(byte_at(i))),
                            a.length,
                            a.interval, fcgi_parse, a.limit)
        complete, stdout = fcgi_parse(raw)
        status, body = fcgi_status(stdout)
    sock.close()
    with open(a.out, "wb") as f:
        f.write(b"status=%d complete=%d elapsed_ms=%d sent=%d\n" % (status, int(complete), ms, sent))
        f.write(body)
    return 0


if __name__ == "__main__":
    sys.exit(main())

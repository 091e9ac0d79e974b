#!/usr/bin/python3
"""A minimal NTLMv2 HTTP client (MS-NLMP 3.1.5, 3.3.2) to prove the emulator's
NTLM login: `ntlm_client.py URL CA_PEM USER DOMAIN BODY_FILE`, password on stdin.
Runs NEGOTIATE → CHALLENGE → AUTHENTICATE on one HTTPS connection, then a
second request on the same connection without Authorization (IIS keeps an
NTLM connection authenticated). Prints the three HTTP statuses."""

import base64
import hmac
import http.client
import os
import ssl
import struct
import sys
import urllib.parse

from Cryptodome.Hash import MD4


def negotiate():
    flags = 0x1 | 0x4 | 0x200 | 0x8000 | 0x80000 | 0x20000000 | 0x80000000
    return b"NTLMSSP\x00" + struct.pack("<II", 1, flags) + b"\x00" * 16


def authenticate(challenge, user, domain, password):
    flags = struct.unpack_from("<I", challenge, 20)[0]
    server_challenge = challenge[24:32]
    length, _, offset = struct.unpack_from("<HHI", challenge, 40)
    info = challenge[offset:offset + length]
    nt_hash = MD4.new(password.encode("utf-16-le")).digest()
    key = hmac.new(nt_hash, (user.upper() + domain).encode("utf-16-le"), "md5").digest()
    timestamp = b"\x00" * 8
    pos = 0
    while pos + 4 <= len(info):
        av_id, av_len = struct.unpack_from("<HH", info, pos)
        if av_id == 7:
            timestamp = info[pos + 4:pos + 4 + av_len]
        if av_id == 0:
            break
        pos += 4 + av_len
    blob = b"\x01\x01" + b"\x00" * 6 + timestamp + os.urandom(8) + b"\x00" * 4 + info + b"\x00" * 4
    proof = hmac.new(key, server_challenge + blob, "md5").digest()
    nt = proof + blob
    lm = b"\x00" * 24
    d, u, w = domain.encode("utf-16-le"), user.encode("utf-16-le"), "CLIENT".encode("utf-16-le")
    offset = 64
    fields, payload = b"", b""
    for data in (lm, nt, d, u, w, b""):
        fields += struct.pack("<HHI", len(data), len(data), offset + len(payload))
        payload += data
    return b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", flags) + payload


def main():
    url, ca, user, domain, body_file = sys.argv[1:6]
    password = sys.stdin.readline().rstrip("\n")
    body = open(body_file, "rb").read()
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=ssl.create_default_context(cafile=ca))
    headers = {"Content-Type": "text/xml; charset=utf-8"}
    statuses = []

    def post(extra):
        conn.request("POST", parts.path, body=body, headers=dict(headers, **extra))
        resp = conn.getresponse()
        resp.read()
        statuses.append(resp.status)
        return resp

    resp = post({"Authorization": "NTLM " + base64.b64encode(negotiate()).decode()})
    offer = [v for k, v in resp.getheaders() if k.lower() == "www-authenticate"]
    token = offer[0].split(" ", 1)[1] if offer and offer[0].startswith("NTLM ") else ""
    msg = authenticate(base64.b64decode(token), user, domain, password) if token else b""
    post({"Authorization": "NTLM " + base64.b64encode(msg).decode()})
    post({})
    print(" ".join(map(str, statuses)))


if __name__ == "__main__":
    main()

"""Server side of NTLM over HTTP (MS-NLMP), NTLMv2 only, as IIS does for EWS.

The handshake is bound to the TCP connection: NEGOTIATE → 401 with a CHALLENGE
→ AUTHENTICATE, verified as MS-NLMP 3.3.2 says (NTOWFv2 = HMAC-MD5(MD4(UTF-16LE
password), UTF-16LE(UPPER(user) + domain)); NTProofStr = HMAC-MD5(NTOWFv2,
ServerChallenge + blob)). MD4 comes from pycryptodome (python3-pycryptodome),
since OpenSSL 3 dropped it. LM and NTLMv1 responses are refused.
"""

import base64
import hmac
import os
import struct
import time

from Cryptodome.Hash import MD4

SIGNATURE = b"NTLMSSP\x00"
DOMAIN = "EWSTEST"
COMPUTER = "EXCH01"

# NegotiateFlags (MS-NLMP 2.2.2.5)
UNICODE, REQUEST_TARGET, NTLM, ALWAYS_SIGN = 0x1, 0x4, 0x200, 0x8000
TARGET_TYPE_DOMAIN, ESS, TARGET_INFO, VERSION = 0x10000, 0x80000, 0x800000, 0x02000000
F128, KEY_EXCH, F56, SIGN, SEAL = 0x20000000, 0x40000000, 0x80000000, 0x10, 0x20


def _utf16(s):
    return s.encode("utf-16-le")


def _field(msg, offset):
    length, _, start = struct.unpack_from("<HHI", msg, offset)
    if start + length > len(msg):
        raise ValueError("NTLM field outside the message")
    return msg[start:start + length]


def message_type(blob):
    if len(blob) < 12 or blob[:8] != SIGNATURE:
        return None
    return struct.unpack_from("<I", blob, 8)[0]


def challenge(negotiate):
    """(CHALLENGE message, server challenge) answering a NEGOTIATE message."""
    client_flags = struct.unpack_from("<I", negotiate, 12)[0] if len(negotiate) >= 16 else 0
    flags = (UNICODE | REQUEST_TARGET | NTLM | ALWAYS_SIGN | TARGET_TYPE_DOMAIN | ESS | TARGET_INFO
             | F128 | F56 | (client_flags & (SIGN | SEAL | KEY_EXCH | VERSION)))
    server_challenge = os.urandom(8)
    target = _utf16(DOMAIN)
    filetime = int((time.time() + 11644473600) * 10_000_000)
    pairs = [(2, _utf16(DOMAIN)), (1, _utf16(COMPUTER)), (4, _utf16("ews.test")),
             (3, _utf16("exch01.ews.test")), (7, struct.pack("<Q", filetime))]
    info = b"".join(struct.pack("<HH", k, len(v)) + v for k, v in pairs) + struct.pack("<HH", 0, 0)
    header_len = 56
    msg = SIGNATURE + struct.pack("<I", 2)
    msg += struct.pack("<HHI", len(target), len(target), header_len)
    msg += struct.pack("<I", flags) + server_challenge + b"\x00" * 8
    msg += struct.pack("<HHI", len(info), len(info), header_len + len(target))
    msg += bytes([10, 0]) + struct.pack("<H", 17763) + b"\x00\x00\x00\x0f"
    return msg + target + info, server_challenge


def verify(authenticate, server_challenge, passwords):
    """The SMTP address whose password proves the AUTHENTICATE message, or None."""
    try:
        nt = _field(authenticate, 20)
        domain = _field(authenticate, 28).decode("utf-16-le")
        user = _field(authenticate, 36).decode("utf-16-le")
    except (ValueError, struct.error, UnicodeDecodeError):
        return None
    if len(nt) <= 24:
        return None
    lowered = user.lower()
    address = lowered if "@" in lowered else next((a for a in passwords if a.split("@")[0] == lowered), None)
    if address is None or address not in passwords:
        return None
    nt_hash = MD4.new(_utf16(passwords[address])).digest()
    for name, dom in ((user, domain), (user, "")):
        key = hmac.new(nt_hash, _utf16(name.upper() + dom), "md5").digest()
        proof = hmac.new(key, server_challenge + nt[16:], "md5").digest()
        if hmac.compare_digest(proof, nt[:16]):
            return address
    return None


class Connection:
    """NTLM state of one HTTP connection."""

    def __init__(self):
        self.server_challenge = None
        self.user = None

    def step(self, token, passwords):
        """(challenge header value or None, authenticated address or None)."""
        try:
            blob = base64.b64decode(token)
        except ValueError:
            return None, None
        kind = message_type(blob)
        if kind == 1:
            msg, self.server_challenge = challenge(blob)
            return base64.b64encode(msg).decode(), None
        if kind == 3 and self.server_challenge is not None:
            self.user = verify(blob, self.server_challenge, passwords)
            self.server_challenge = None
            return None, self.user
        return None, None

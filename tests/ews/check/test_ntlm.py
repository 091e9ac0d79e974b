"""The emulator's NTLMv2 check against the test vectors of MS-NLMP 4.2.4
(user "User", domain "Domain", password "Password", server challenge
0123456789abcdef, client challenge aa×8, time 0, target info Domain/Server):
NTOWFv2 = 0c868a403bfd7a93a3001ef22ef02e3f, NTProofStr = 68cd0ab851e51c96aabc927bebef6a1c."""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ntlm  # noqa: E402

PROOF = bytes.fromhex("68cd0ab851e51c96aabc927bebef6a1c")
CHALLENGE = bytes.fromhex("0123456789abcdef")
AV = (struct.pack("<HH", 2, 12) + "Domain".encode("utf-16-le") + struct.pack("<HH", 1, 12)
      + "Server".encode("utf-16-le") + b"\0\0\0\0")
BLOB = b"\x01\x01" + b"\0" * 6 + b"\0" * 8 + b"\xaa" * 8 + b"\0" * 4 + AV + b"\0" * 4


def authenticate(nt, user="User", domain="Domain"):
    offset, fields, payload = 64, b"", b""
    for data in (b"\0" * 24, nt, domain.encode("utf-16-le"), user.encode("utf-16-le"), b"", b""):
        fields += struct.pack("<HHI", len(data), len(data), offset + len(payload))
        payload += data
    return b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", 0) + payload


class Vectors(unittest.TestCase):
    def test_the_documented_ntlmv2_response_is_accepted(self):
        got = ntlm.verify(authenticate(PROOF + BLOB), CHALLENGE, {"user@example.test": "Password"})
        self.assertEqual(got, "user@example.test")

    def test_a_wrong_password_is_refused(self):
        self.assertIsNone(ntlm.verify(authenticate(PROOF + BLOB), CHALLENGE, {"user@example.test": "password"}))

    def test_another_server_challenge_is_refused(self):
        self.assertIsNone(ntlm.verify(authenticate(PROOF + BLOB), b"\0" * 8, {"user@example.test": "Password"}))

    def test_an_ntlmv1_response_is_refused(self):
        self.assertIsNone(ntlm.verify(authenticate(b"\x11" * 24), CHALLENGE, {"user@example.test": "Password"}))


if __name__ == "__main__":
    unittest.main()

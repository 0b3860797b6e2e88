"""RSA-3072 PKCS#1 v1.5 signature verification with SHA-384, as P-SEAMLDR verifies a sigstruct
(docs/domain.md#sigstruct-checks: the signature over ``sigstruct[0:128]`` + ``sigstruct[900:2048]``,
modulus, exponent and signature stored little-endian).

Plain ``pow()`` and a comparison against the full expected EMSA-PKCS1-v1_5 encoding (RFC 8017
section 8.2.2, steps 3-4: encode and compare, no parsing of the decrypted block, so no
Bleichenbacher-style leniency). With ``e = 65537`` this costs well under a millisecond,
whereas importing ``cryptography`` costs tens of milliseconds of start-up; the test-suite uses
``cryptography`` as an independent oracle.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["rsa_pkcs1v15_sha384_verify"]

# DER DigestInfo prefix for SHA-384 (RFC 8017 section 9.2, note 1).
_SHA384_DIGEST_INFO = bytes.fromhex("3041300d060960864801650304020205000430")
_RSA_BYTES = 384


def rsa_pkcs1v15_sha384_verify(
    modulus_le: bytes, exponent: int, signature_le: bytes, message: bytes
) -> bool:
    """RSA PKCS#1 v1.5 verification with SHA-384, key and signature stored little-endian."""
    n = int.from_bytes(modulus_le, "little")
    s = int.from_bytes(signature_le, "little")
    if n < 3 or s >= n or exponent < 1:
        return False
    k = max(_RSA_BYTES, (n.bit_length() + 7) // 8)
    em = pow(s, exponent, n).to_bytes(k, "big")
    t = _SHA384_DIGEST_INFO + hashlib.sha384(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return hmac.compare_digest(em, expected)

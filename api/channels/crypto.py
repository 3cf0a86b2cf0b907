"""The platforms' signatures and WeCom's message encryption, as their public docs describe them.

DingTalk (robot outgoing callback): sign = base64(HMAC-SHA256(key=app_secret, msg=timestamp + "\\n" + app_secret)).
WeCom (application callback): msg_signature = SHA1 of sorted [token, timestamp, nonce, encrypt] joined;
encrypt = base64(AES-256-CBC(key=base64decode(EncodingAESKey + "="), iv=key[:16],
PKCS#7 to 32-byte blocks, random16 + len(msg) as 4 bytes big-endian + msg + receive_id)).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

BLOCK = 32  # WeCom pads to 32-byte blocks (PKCS#7 with block size 32)


class CryptoError(ValueError):
    """A signature, key or ciphertext that does not check out."""


def dingtalk_sign(app_secret: str, timestamp: str) -> str:
    mac = hmac.new(app_secret.encode(), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def dingtalk_verify(app_secret: str, timestamp: str, sign: str) -> bool:
    return hmac.compare_digest(dingtalk_sign(app_secret, timestamp).encode(), (sign or "").encode())


def wecom_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()


def wecom_verify(token: str, timestamp: str, nonce: str, encrypt: str, signature: str) -> bool:
    return hmac.compare_digest(wecom_signature(token, timestamp, nonce, encrypt).encode(), (signature or "").encode())


def wecom_key(aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey (CryptoError otherwise)."""
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as e:
        raise CryptoError("the EncodingAESKey is not base64") from e
    if len(aes_key) != 43 or len(key) != 32:
        raise CryptoError("the EncodingAESKey must be 43 characters (32 bytes)")
    return key


def _cipher(key: bytes):
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def wecom_decrypt(aes_key: str, encrypt: str) -> tuple[bytes, str]:
    """(message, receive_id) from a base64 `Encrypt` value; CryptoError when it does not decrypt."""
    key = wecom_key(aes_key)
    try:
        data = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError) as e:
        raise CryptoError("the ciphertext is not base64") from e
    if not data or len(data) % 16:
        raise CryptoError("the ciphertext is not whole AES blocks")
    dec = _cipher(key).decryptor()
    plain = dec.update(data) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise CryptoError("bad padding")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise CryptoError("the plaintext is too short")
    (n,) = struct.unpack(">I", plain[16:20])
    if 20 + n > len(plain):
        raise CryptoError("the message length is out of range")
    try:
        receive_id = plain[20 + n:].decode()
    except UnicodeDecodeError as e:
        raise CryptoError("the receive id is not text") from e
    return plain[20:20 + n], receive_id


def wecom_encrypt(aes_key: str, message: bytes, receive_id: str, random16: bytes | None = None) -> str:
    key = wecom_key(aes_key)
    plain = (random16 or os.urandom(16)) + struct.pack(">I", len(message)) + message + receive_id.encode()
    pad = BLOCK - len(plain) % BLOCK
    plain += bytes([pad]) * pad
    enc = _cipher(key).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

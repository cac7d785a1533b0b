"""WeCom callback message crypto (the WXBizMsgCrypt scheme).

- signature: SHA1 hex of the sorted concatenation of token, timestamp, nonce, ciphertext;
- key: base64-decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = key[:16];
- padding: PKCS#7 to a multiple of 32 bytes (not AES's 16);
- plaintext: 16 random bytes + 4-byte big-endian length + message + receive id (the corp id),
  and the receive id must match ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import xml.etree.ElementTree as ET

_BLOCK = 32


class WeComCryptoError(ValueError):
    """A callback that fails verification; ``code`` follows WXBizMsgCrypt's error codes."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str):
        if len(encoding_aes_key) != 43:
            raise WeComCryptoError(-40004, "EncodingAESKey must be 43 characters")
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except (binascii.Error, ValueError):
            raise WeComCryptoError(-40004, "EncodingAESKey is not base64") from None
        if len(key) != 32:
            raise WeComCryptoError(-40004, "EncodingAESKey must decode to 32 bytes")
        self.token = token
        self.key = key
        self.receive_id = receive_id

    # -- primitives

    def _cipher(self):  # imported lazily: only `serve` needs cryptography
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        raw = message.encode()
        rnd = random16 if random16 is not None else os.urandom(16)
        plain = rnd + struct.pack(">I", len(raw)) + raw + self.receive_id.encode()
        pad = _BLOCK - len(plain) % _BLOCK
        plain += bytes([pad]) * pad
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise WeComCryptoError(-40010, "ciphertext is not base64") from None
        if not data or len(data) % 16:
            raise WeComCryptoError(-40007, "ciphertext length is not a multiple of 16")
        dec = self._cipher().decryptor()
        plain = dec.update(data) + dec.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise WeComCryptoError(-40007, "bad padding (wrong EncodingAESKey?)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise WeComCryptoError(-40008, "plaintext too short")
        (n,) = struct.unpack(">I", plain[16:20])
        if 20 + n > len(plain):
            raise WeComCryptoError(-40008, "message length exceeds the plaintext")
        msg, rid = plain[20:20 + n], plain[20 + n:]
        if not hmac.compare_digest(rid, self.receive_id.encode()):
            raise WeComCryptoError(-40005, f"receive id {rid.decode(errors='replace')!r} is "
                                   "not ours")
        try:
            return msg.decode()
        except UnicodeDecodeError:
            raise WeComCryptoError(-40008, "message is not UTF-8") from None

    def check(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        want = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(want, (msg_signature or "").lower()):
            raise WeComCryptoError(-40001, "msg_signature does not match")

    # -- the two callback operations

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET verification: check, decrypt echostr, and answer with its plaintext."""
        self.check(msg_signature, timestamp, nonce, echostr)
        return self.decrypt(echostr)

    def decrypt_msg(self, body: bytes | str, msg_signature: str, timestamp: str,
                    nonce: str) -> str:
        """POST callback: the XML's <Encrypt>, checked and decrypted to the inner XML."""
        encrypted = encrypt_field(body)
        self.check(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypt_msg(self, message: str, timestamp: str, nonce: str) -> str:
        """What WeCom sends (and what a passive reply looks like): the envelope XML."""
        enc = self.encrypt(message)
        sig = signature(self.token, timestamp, nonce, enc)
        return (f"<xml><Encrypt><![CDATA[{enc}]]></Encrypt><MsgSignature><![CDATA[{sig}]]>"
                f"</MsgSignature><TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]>"
                "</Nonce></xml>")


def parse_xml(body: bytes | str) -> ET.Element:
    """Parse callback XML, refusing DTDs (no entity tricks on an internet-facing port)."""
    # checked and parsed as UTF-8 whatever the XML declares: a UTF-16 body would hide a DTD
    # from a search of its bytes and still reach expat's entity expansion
    try:
        text = body if isinstance(body, str) else body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WeComCryptoError(-40002, "callback XML is not UTF-8") from None
    if "\x00" in text:  # never in XML 1.0; expat would take it for UTF-16 nonetheless
        raise WeComCryptoError(-40002, "callback XML contains NUL characters")
    up = text.upper()
    if "<!DOCTYPE" in up or "<!ENTITY" in up:
        raise WeComCryptoError(-40002, "XML with a DTD is refused")
    try:
        parser = ET.XMLParser(encoding="utf-8")  # overrides any declared encoding
        parser.feed(text.encode())
        return parser.close()
    except ET.ParseError as exc:
        raise WeComCryptoError(-40002, f"malformed XML: {exc}") from None


def encrypt_field(body: bytes | str) -> str:
    node = parse_xml(body).find("Encrypt")
    if node is None or not (node.text or "").strip():
        raise WeComCryptoError(-40002, "no <Encrypt> in the callback body")
    return node.text.strip()

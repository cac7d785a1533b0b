"""WeCom callback crypto against the published WXBizMsgCrypt sample values."""

from __future__ import annotations

import pytest

from sopctl.events.wecom_crypto import WeComCrypto, WeComCryptoError, signature

# The sample values shipped with WeCom's WXBizMsgCrypt libraries (Sample.py / Sample.php).
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "wx5823bf96d3bd56c7"
VERIFY_SIG = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TS = "1409659589"
VERIFY_NONCE = "263014780"
ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
MSG_SIG = "477715d11cdb4164915debcba66cb864d751f3e6"
MSG_TS = "1409659813"
MSG_NONCE = "1372623149"
ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
BODY = (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{ENCRYPT}]]>"
        "</Encrypt><AgentID><![CDATA[218]]></AgentID></xml>")


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


def test_sample_signatures():
    assert signature(TOKEN, VERIFY_TS, VERIFY_NONCE, ECHOSTR) == VERIFY_SIG
    assert signature(TOKEN, MSG_TS, MSG_NONCE, ENCRYPT) == MSG_SIG


def test_sample_url_verification(crypto):
    assert crypto.verify_url(VERIFY_SIG, VERIFY_TS, VERIFY_NONCE, ECHOSTR) == "1616140317555161061"


def test_sample_message_decrypts(crypto):
    xml = crypto.decrypt_msg(BODY, MSG_SIG, MSG_TS, MSG_NONCE)
    assert xml.startswith(f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>")
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in xml
    assert "<Content><![CDATA[hello]]></Content>" in xml
    assert "<MsgId>4561255354251345929</MsgId>" in xml


def test_bad_signature_is_refused(crypto):
    with pytest.raises(WeComCryptoError) as e:
        crypto.decrypt_msg(BODY, "0" * 40, MSG_TS, MSG_NONCE)
    assert e.value.code == -40001
    with pytest.raises(WeComCryptoError):  # a different timestamp changes the signature
        crypto.verify_url(VERIFY_SIG, "1409659590", VERIFY_NONCE, ECHOSTR)


def test_receive_id_is_checked():
    other = WeComCrypto(TOKEN, AES_KEY, "wwSomeoneElse")
    with pytest.raises(WeComCryptoError) as e:
        other.decrypt_msg(BODY, MSG_SIG, MSG_TS, MSG_NONCE)
    assert e.value.code == -40005


def test_wrong_key_fails_cleanly():
    wrong = WeComCrypto(TOKEN, "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", CORP_ID)
    with pytest.raises(WeComCryptoError):
        wrong.decrypt_msg(BODY, MSG_SIG, MSG_TS, MSG_NONCE)


def test_encrypt_is_the_inverse_and_pads_to_32(crypto):
    msg = "<xml><Content><![CDATA[入群欢迎 你好]]></Content></xml>"
    enc = crypto.encrypt(msg)
    import base64

    assert len(base64.b64decode(enc)) % 32 == 0
    assert crypto.decrypt(enc) == msg
    env = crypto.encrypt_msg(msg, "1700000000", "n1")
    sig = env.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    assert crypto.decrypt_msg(env, sig, "1700000000", "n1") == msg


DTD = b'<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>'


@pytest.mark.parametrize("body", [b"not xml", b"<xml></xml>", DTD])
def test_malformed_bodies(crypto, body):
    with pytest.raises(WeComCryptoError):
        crypto.decrypt_msg(body, MSG_SIG, MSG_TS, MSG_NONCE)


def test_bad_aes_key_length():
    with pytest.raises(WeComCryptoError):
        WeComCrypto(TOKEN, "short", CORP_ID)


def test_dtd_in_another_encoding_is_refused_before_parsing():
    """A UTF-16 body hides "<!DOCTYPE" from a byte search; it must be refused all the same."""
    from sopctl.events.wecom_crypto import parse_xml

    doc = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">'
           '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Encrypt>&b;</Encrypt></xml>')
    for body in (doc.encode("utf-16"), doc.encode("utf-16-be")):
        with pytest.raises(WeComCryptoError):
            parse_xml(body)
    ok = "\ufeff<xml><Encrypt>abc</Encrypt></xml>".encode()  # UTF-8 with a BOM is fine
    assert parse_xml(ok).find("Encrypt").text == "abc"

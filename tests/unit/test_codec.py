"""The payload codec: what Temporal stores is ciphertext, and rotated keys still decrypt."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload

from domain.application import TreasuryPayment
from runtime.codec import ENCODING, KEY_ID, EncryptionCodec
from runtime.temporal import data_converter

OLD, NEW = EncryptionCodec.new_key(), EncryptionCodec.new_key()


def _payment() -> TreasuryPayment:
    return TreasuryPayment(
        payment_id="T20270331-0001",
        contract_no="WX-2026-000123",
        payee_account_no="6222020000000001",
        amount=Decimal("1000000.00"),
        paid_on="2027-03-31",
    )


async def test_payloads_are_encrypted_and_round_trip() -> None:
    converter = data_converter(EncryptionCodec.from_setting(f"k1:{OLD}"))
    [payload] = await converter.encode([_payment()])
    assert payload.metadata["encoding"] == ENCODING and payload.metadata[KEY_ID] == b"k1"
    assert b"6222020000000001" not in payload.data and b"1000000.00" not in payload.data
    [back] = await converter.decode([payload], [TreasuryPayment])
    assert back == _payment() and back.amount == Decimal("1000000.00")


async def test_a_rotated_key_still_decrypts_old_payloads() -> None:
    old = data_converter(EncryptionCodec.from_setting(f"k1:{OLD}"))
    [stored] = await old.encode([_payment()])
    rotated = data_converter(EncryptionCodec.from_setting(f"k2:{NEW},k1:{OLD}"))
    [again] = await rotated.encode([_payment()])
    assert again.metadata[KEY_ID] == b"k2"
    assert await rotated.decode([stored], [TreasuryPayment]) == [_payment()]


async def test_unknown_key_and_tampering_are_refused() -> None:
    codec = EncryptionCodec.from_setting(f"k1:{OLD}")
    [payload] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')])
    with pytest.raises(ValueError, match="unknown key id"):
        await EncryptionCodec.from_setting(f"k9:{NEW}").decode([payload])
    tampered = Payload(metadata=payload.metadata, data=payload.data[:-1] + bytes([payload.data[-1] ^ 1]))
    with pytest.raises(InvalidTag):
        await codec.decode([tampered])


async def test_plain_payloads_pass_through_decode() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"{}")
    assert await EncryptionCodec.from_setting(f"k1:{OLD}").decode([plain]) == [plain]


async def test_histories_written_before_encryption_still_read() -> None:
    """A `.zcd/` from before `make run` encrypted: its histories hold plain payloads (json,
    null, protobuf), which the encrypting converter reads as they are, beside new ciphertext."""
    [before] = await data_converter().encode([_payment()])  # no codec: how the earlier run stored it
    assert before.metadata["encoding"] == b"json/plain"
    codec = EncryptionCodec.from_setting(f"local1:{NEW}")
    others = [
        Payload(metadata={"encoding": b"binary/null"}),
        Payload(metadata={"encoding": b"json/protobuf"}, data=b"{}"),
    ]
    assert await codec.decode([before, *others]) == [before, *others]
    now = data_converter(codec)
    [after] = await now.encode([_payment()])
    assert await now.decode([before, after], [TreasuryPayment, TreasuryPayment]) == [_payment(), _payment()]


def test_bad_settings_are_refused() -> None:
    for setting in ("", "nokey", f":{OLD}", "k1:" + "QUJD"):
        with pytest.raises(ValueError):
            EncryptionCodec.from_setting(setting)


async def test_the_workers_codec_refuses_plain_payloads() -> None:
    """Strict decoding (the worker's): a plain payload becomes one no converter reads, and is
    reported; ciphertext decodes as before."""
    refused: list[bytes] = []
    strict = EncryptionCodec.from_setting(f"k1:{OLD}", refuse_plaintext=True, on_refused=refused.append)
    [plain] = await data_converter().encode([_payment()])
    [encrypted] = await data_converter(strict).encode([_payment()])
    [kept, forged] = await strict.decode([encrypted, plain])
    assert forged.metadata["encoding"] == b"binary/refused-plaintext" and forged.data == b""
    assert refused == [b"json/plain"]
    assert await data_converter().decode([kept], [TreasuryPayment]) == [_payment()]
    with pytest.raises(KeyError, match="Unknown payload encoding"):
        await data_converter().decode([forged], [TreasuryPayment])


async def test_large_payloads_are_compressed_inside_the_ciphertext_and_old_ones_still_read() -> None:
    import base64
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    codec = EncryptionCodec.from_setting(f"k1:{OLD}")
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"note": "' + b"repeated text " * 200 + b'"}')
    [encoded] = await codec.encode([plain])
    assert len(encoded.data) < len(plain.data) // 4  # JSON compresses before it is encrypted
    assert await codec.decode([encoded]) == [plain]
    # a payload written before compression existed: the serialized protobuf, encrypted as is
    nonce = os.urandom(12)
    cipher = AESGCM(base64.b64decode(OLD))
    before = Payload(
        metadata={"encoding": ENCODING, KEY_ID: b"k1"},
        data=nonce + cipher.encrypt(nonce, plain.SerializeToString(), b"k1"),
    )
    assert await codec.decode([before]) == [plain]


async def test_a_null_stays_plain_and_reads_back() -> None:
    converter = data_converter(EncryptionCodec.from_setting(f"k1:{OLD}", refuse_plaintext=True))
    [payload] = await converter.encode([None])
    assert payload.metadata["encoding"] == b"binary/null" and payload.data == b""
    assert await converter.decode([payload], [type(None)]) == [None]

"""AES-GCM payload encryption, so Temporal stores only `binary/encrypted` payloads.

Keys come from the `ZCD_CODEC_KEYS` setting, "kid:base64key[,kid:base64key…]": the first key
encrypts, every listed key decrypts, so a rotated-out key still reads old histories. The key
id travels in each payload's metadata; the nonce is prepended to the ciphertext.

The worker decodes strictly (`refuse_plaintext`): with keys configured, everything the
platform writes is encrypted, so a plain payload can only come from around the API — e.g.
`temporal workflow signal --name treasury_payment --input '{…}'`, a payment nobody signed or
recorded. It is replaced by one no converter reads: the SDK drops such a signal (logging
"Failed deserializing signal input") and refuses such an update, so it changes nothing; it is
logged here and counted (`zcd_plaintext_payloads_refused`). The API's /codec endpoint, which
only shows payloads to ops, still passes plain ones through.

Inside the ciphertext a payload is either its protobuf bytes, or — when that is smaller —
a zero byte followed by those bytes zlib-compressed (a protobuf message never starts with a
zero byte: field number 0 does not exist, so old histories read the same). JSON compresses
well; a loan's dossier and inputs shrink by half. The price: a ciphertext's length now depends
on how repetitive its content is, so someone who could both put text into a payload (a bank's
reason) and read history sizes could learn a little about the other fields of that same payload
(the CRIME pattern). Reading history sizes takes Temporal access, which only ops have; a
deployment that does not accept that sets nothing else and drops `_packed` (decoding stays).

A null (`binary/null`, no data: what a step that returns nothing answers) stays as it is in
both directions: it says nothing, and encrypting it cost ~90 bytes on each of a loan's dozen
local-activity markers. No handler of the platform takes a null, so one sent around the API is
refused by conversion like any other plain payload.
"""

from __future__ import annotations

import base64
import os
import zlib
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
NULL_ENCODING = b"binary/null"  # the SDK's encoding of None: no data, left plain
REFUSED_ENCODING = b"binary/refused-plaintext"  # no payload converter reads it: conversion fails
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12
COMPRESSED = b"\x00"  # first plaintext byte of a compressed payload


class EncryptionCodec(PayloadCodec):
    def __init__(
        self,
        keys: dict[str, bytes],
        active_key_id: str,
        *,
        refuse_plaintext: bool = False,
        on_refused: Callable[[bytes], None] | None = None,
    ) -> None:
        if active_key_id not in keys:
            raise ValueError(f"active key {active_key_id!r} is not among the configured keys")
        for kid, key in keys.items():
            if len(key) not in (16, 24, 32):
                raise ValueError(f"key {kid!r} must be 128, 192 or 256 bits")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self._active = active_key_id
        self._refuse_plaintext = refuse_plaintext
        self._on_refused = on_refused

    @classmethod
    def from_setting(
        cls, setting: str, *, refuse_plaintext: bool = False, on_refused: Callable[[bytes], None] | None = None
    ) -> EncryptionCodec:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for item in filter(None, (part.strip() for part in setting.split(","))):
            kid, sep, encoded = item.partition(":")
            if not sep or not kid:
                raise ValueError("ZCD_CODEC_KEYS entries look like kid:base64key")
            keys[kid] = base64.b64decode(encoded)
            order.append(kid)
        if not order:
            raise ValueError("ZCD_CODEC_KEYS holds no key")
        return cls(keys, order[0], refuse_plaintext=refuse_plaintext, on_refused=on_refused)

    @staticmethod
    def new_key() -> str:
        """A fresh 256-bit key, base64, for the setting."""
        return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        cipher = self._ciphers[self._active]
        encoded = []
        for payload in payloads:
            if _is_null(payload):
                encoded.append(payload)
                continue
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, _packed(payload.SerializeToString()), self._active.encode())
            encoded.append(Payload(metadata={"encoding": ENCODING, KEY_ID: self._active.encode()}, data=data))
        return encoded

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded = []
        for payload in payloads:
            if _is_null(payload):
                decoded.append(payload)
                continue
            if payload.metadata.get("encoding") != ENCODING:
                if self._refuse_plaintext:
                    decoded.append(self._refused(payload))
                else:
                    decoded.append(payload)  # only shown (the /codec endpoint), never applied
                continue
            kid = payload.metadata.get(KEY_ID, b"").decode()
            cipher = self._ciphers.get(kid)
            if cipher is None:
                raise ValueError(f"payload encrypted with unknown key id {kid!r}")
            nonce, ciphertext = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
            decoded.append(Payload.FromString(_unpacked(cipher.decrypt(nonce, ciphertext, kid.encode()))))
        return decoded

    def _refused(self, payload: Payload) -> Payload:
        encoding = payload.metadata.get("encoding", b"")
        if self._on_refused is not None:
            self._on_refused(encoding)
        return Payload(metadata={"encoding": REFUSED_ENCODING, "refused-encoding": encoding})


def _is_null(payload: Payload) -> bool:
    return payload.metadata.get("encoding") == NULL_ENCODING and not payload.data


def _packed(serialized: bytes) -> bytes:
    compressed = COMPRESSED + zlib.compress(serialized, 9)
    return compressed if len(compressed) < len(serialized) else serialized


def _unpacked(plaintext: bytes) -> bytes:
    return zlib.decompress(plaintext[1:]) if plaintext[:1] == COMPRESSED else plaintext

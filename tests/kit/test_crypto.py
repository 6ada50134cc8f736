"""Secrets at rest: MultiFernet, rotation."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from rakuten_connector.kit.crypto import SecretBox, new_webhook_secret


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    ciphertext = box.encrypt("rk-token-secret")
    assert "rk-token-secret" not in ciphertext
    assert box.decrypt(ciphertext).get_secret_value() == "rk-token-secret"
    # What comes out stays wrapped: its repr shows nothing.
    assert "rk-token-secret" not in repr(box.decrypt(ciphertext))
    assert box.decrypt(box.encrypt(SecretStr("wrapped"))).get_secret_value() == "wrapped"


def test_rotation_old_data_reads_after_a_new_key_is_put_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    written_with_old = SecretBox([old]).encrypt("secret")
    rotated = SecretBox([new, old])
    assert rotated.decrypt(written_with_old).get_secret_value() == "secret"
    # New writes use the new key only.
    assert SecretBox([new]).decrypt(rotated.encrypt("fresh")).get_secret_value() == "fresh"
    # Re-encrypting moves old data to the new key, so the old key can be retired.
    assert SecretBox([new]).decrypt(rotated.rotate(written_with_old)).get_secret_value() == "secret"


def test_unknown_key_is_a_clear_error() -> None:
    ciphertext = SecretBox([Fernet.generate_key().decode()]).encrypt("s")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox([Fernet.generate_key().decode()]).decrypt(ciphertext)


def test_webhook_secret_format() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 32
    assert new_webhook_secret() != secret


def test_is_current_says_whether_the_first_key_encrypted_it() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    box = SecretBox([new, old])
    assert box.is_current(box.encrypt("s"))
    assert not box.is_current(SecretBox([old]).encrypt("s"))
    assert box.is_current(box.rotate(SecretBox([old]).encrypt("s")))
    # Opened by no key: not current either, and rotating it is the same clear error as reading it.
    lost = SecretBox([Fernet.generate_key().decode()]).encrypt("s")
    assert not box.is_current(lost)
    with pytest.raises(ValueError, match="cannot be decrypted"):
        box.rotate(lost)

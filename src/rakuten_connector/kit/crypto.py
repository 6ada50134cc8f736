"""Secrets at rest: MultiFernet over SECRET_KEYS (the first key encrypts, every key decrypts)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        fernets = [Fernet(k) for k in keys]
        self._first = fernets[0]
        self._fernet = MultiFernet(fernets)

    def encrypt(self, plaintext: str | SecretStr) -> str:
        if isinstance(plaintext, SecretStr):
            return self._fernet.encrypt(plaintext.get_secret_value().encode()).decode("ascii")
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> SecretStr:
        """The secret, kept in a SecretStr: reveal it only where it is sent."""
        try:
            return SecretStr(self._fernet.decrypt(ciphertext.encode("ascii")).decode())
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with any of SECRET_KEYS") from exc

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt with the first key (after a new key was put first)."""
        try:
            return self._fernet.rotate(ciphertext.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with any of SECRET_KEYS") from exc

    def is_current(self, ciphertext: str) -> bool:
        """Whether the first key encrypted `ciphertext` (nothing to rotate); False for any other key, and for
        a ciphertext no key opens."""
        try:
            self._first.decrypt(ciphertext.encode("ascii"))
        except InvalidToken:
            return False
        return True


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")

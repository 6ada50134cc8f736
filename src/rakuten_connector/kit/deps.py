"""Typed FastAPI dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rakuten_connector.connections.checks import CredentialChecker, LiveCredentialChecker
from rakuten_connector.kit.crypto import SecretBox
from rakuten_connector.kit.queue import JobQueue
from rakuten_connector.settings import Settings, get_settings


def get_secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def get_credential_checker(
    request: Request, settings: Annotated[Settings, Depends(get_settings)]
) -> CredentialChecker:
    return LiveCredentialChecker(settings, request.app.state.http)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SecretBoxDep = Annotated[SecretBox, Depends(get_secret_box)]
CheckerDep = Annotated[CredentialChecker, Depends(get_credential_checker)]


def get_queue(request: Request) -> JobQueue:
    queue: JobQueue = request.app.state.queue
    return queue


QueueDep = Annotated[JobQueue, Depends(get_queue)]

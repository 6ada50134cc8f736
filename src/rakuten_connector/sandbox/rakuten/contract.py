"""The Rakuten contract the sandbox serves: the web services on `/sales_ws` and `/stock_ws`. The action,
its version and its parameters are checked as a strict Rakuten would (a wrong `version` is a
ParameterError), then carried out on the world and answered in Rakuten's XML (`render.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from email.parser import BytesParser
from email.policy import HTTP

from starlette.requests import ClientDisconnect, Request

from rakuten_connector.sandbox.bodies import ClientGone
from rakuten_connector.sandbox.rakuten.models import MAX_FILE_BYTES, Seller, WsError, parameter_error
from rakuten_connector.sandbox.rakuten.render import (
    ROOTS,
    STOCK_ACTIONS,
    render_export,
    render_import_result,
    render_item_info,
    render_report,
    render_sales,
    render_status,
)
from rakuten_connector.sandbox.rakuten.state import RakutenWorld

VERSIONS = {
    "getnewsales": "2017-08-07",
    "getcurrentsales": "2017-08-07",
    "acceptsale": "2021-04-08",
    "refusesale": "2010-09-20",
    "getiteminfos": "2017-08-07",
    "cancelitem": "2011-02-02",
    "settrackingpackageinfos": "2016-03-16",
    "importitemshippingstatus": "2016-05-09",
    "export": "2018-06-29",
    "genericimportfile": "2015-02-02",
    "genericimportreport": "2017-02-10",
}
UPLOAD_ACTIONS = frozenset({"genericimportfile", "importitemshippingstatus"})


def dispatch(
    world: RakutenWorld, endpoint: str, action: str, request: Request, body: bytes, *, force_quota: bool
) -> bytes:
    """Carry out one web-service call; raises `WsError` for what Rakuten answers as an `errorresponse`."""
    query = request.query_params
    seller = world.authenticate(query.get("login", ""), query.get("pwd", ""))
    expected_endpoint = "stock_ws" if action in STOCK_ACTIONS else "sales_ws"
    if action not in ROOTS or endpoint != expected_endpoint:
        raise parameter_error("Unknown action.", f"action {action!r} does not exist on {endpoint}")
    version = query.get("version", "")
    if version != VERSIONS[action]:
        raise parameter_error("Invalid version.", f"version {version!r} is not supported for {action}")
    world.count_call(seller, is_file=action == "genericimportfile")
    if force_quota:
        raise WsError("InvalidUserRights", "Quota exceeded.")
    world.tick(seller)
    login = seller.login
    if action in UPLOAD_ACTIONS:
        filename, content = _file_part(request, body)
        if action == "genericimportfile":
            return render_import_result(action, login, version, world.upload(seller, filename, content).import_id)
        world.import_tracking(seller, content)
        return render_import_result(action, login, version, None)
    return _dispatch_get(world, seller, action, version, query.get)


def _dispatch_get(
    world: RakutenWorld, seller: Seller, action: str, version: str, get: Callable[[str, str], str]
) -> bytes:
    login = seller.login
    item_id = get("itemid", "")
    if action == "getnewsales":
        return render_sales(action, login, version, seller.seller_id, world.new_sales(seller))
    if action == "getcurrentsales":
        since = _parse_date(get("purchasedate", ""))
        sales, token = world.current_sales_page(seller, since, get("nexttoken", ""))
        return render_sales(action, login, version, seller.seller_id, sales, token)
    if action == "getiteminfos":
        sale, item = world.item(seller, item_id)
        answer = render_item_info(login, version, seller.seller_id, sale, item)
        world.read_messages(item)  # as on Rakuten: reading the item marks its messages read
        return answer
    if action == "acceptsale":
        world.accept(seller, item_id, get("shippingfromcountry", ""))
        return render_status(action, login, version, "Accepted")
    if action == "refusesale":
        world.refuse(seller, item_id)
        return render_status(action, login, version, "Refused")
    if action == "cancelitem":
        world.cancel(seller, item_id, get("comment", ""))
        return render_status(action, login, version, "CANCELLED")
    if action == "settrackingpackageinfos":
        world.set_tracking(
            seller, item_id, get("transporter_name", ""), get("tracking_number", ""), get("tracking_url", "")
        )
        return render_status(action, login, version, "OK")
    if action == "export":
        adverts, token = world.export_page(seller, get("nexttoken", ""))
        return render_export(login, version, adverts, len(seller.adverts), token)
    # genericimportreport
    upload, products, token = world.report_page(seller, get("fileid", ""), get("nexttoken", ""))
    status = upload.status(world.now(), world.upload_delay)
    return render_report(login, version, upload, status, products, token)


def _parse_date(value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise parameter_error("Invalid purchasedate.", "purchasedate must be yyyy-mm-dd") from None


async def read_upload(request: Request) -> bytes:
    """The body, refused past Rakuten's 30 MB file limit (chunked bodies included); `ClientGone` when the
    client goes away before it has come whole."""
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_FILE_BYTES + 64 * 1024:
                raise WsError(
                    "ParameterError", "File too large.", ["Files are limited to 30 MB."], http_status=413
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone("the client went away before its file came") from None
    return b"".join(chunks)


def _file_part(request: Request, body: bytes) -> tuple[str, bytes]:
    content_type = request.headers.get("content-type", "")
    if request.method != "POST" or not content_type.startswith("multipart/form-data"):
        raise parameter_error("Missing file.", "Upload the file as multipart/form-data, part 'file'")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return str(part.get_filename() or "file.xml"), payload if isinstance(payload, bytes) else b""
    raise parameter_error("Missing file.", "No multipart part named 'file'")

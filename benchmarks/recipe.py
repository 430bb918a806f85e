"""The blog recipe's hooks, as the article has them.

One change only: ``trace_add_log_record`` logs the record as a JSON line through
``logging`` (logger ``bench.recipe``) instead of ``print``-ing a dict. Headers objects
and MultiDicts are not JSON types, so they go through ``default=str``, as print would
have shown their repr. The article's quirks (the whole response body decoded into the
log, ``get_json()`` on every non-GET) are kept on purpose: that is what is compared.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from flask import Flask, Response, g, request

logger = logging.getLogger("bench.recipe")


def get_uuid() -> str:
    return str(uuid.uuid4()).replace("-", "")


def trace_add_log_record(event_des: str = "", msg_dict: dict | None = None, remarks: str = ""):
    request.trace_links_index = request.trace_links_index + 1
    logs = {
        "traceid": g.traceid,
        "trace_index": request.trace_links_index,
        "event_des": event_des,
        "msg_dict": msg_dict if msg_dict is not None else {},
        "remarks": remarks,
    }
    logger.info(json.dumps(logs, default=str))


def trace_start_log_record_handler() -> None:
    if "traceid" in request.headers:
        g.traceid = request.headers["traceid"]
    else:
        g.traceid = get_uuid()
    request.trace_links_index = 0
    request.start_time = time.time()
    log_msg = {
        "headers": request.headers,
        "url": request.url,
        "method": request.method,
        "request_data": request.args if request.method == "GET" else request.get_json(),
        "ip": request.headers.get("X-Real-IP") or request.remote_addr,
        "start_time": request.start_time,
    }
    trace_add_log_record(event_des="start", msg_dict=log_msg)


def trace_end_log_record_handler(reponse: Response) -> None:
    request.end_time = time.time()
    reponse.headers.add("traceid", g.traceid)
    log_msg = {
        "end_time": request.end_time,
        "cost_time": request.end_time - request.start_time,
        "status_code": reponse.status_code,
        "headers": reponse.headers,
        "response_data": reponse.data.decode("utf-8"),
    }
    trace_add_log_record(event_des="end", msg_dict=log_msg)


def register_handler(app: Flask) -> None:
    def before_request() -> None:
        trace_start_log_record_handler()

    def after_request(response: Response) -> Response:
        trace_end_log_record_handler(reponse=response)
        return response

    app.before_request(before_request)
    app.after_request(after_request)

"""Schemathesis hooks of the contract test: every generated request is signed as an MDA
device signs it (docs/API.md, "Authentication"), with the user and secret the test passes in
INTAKE_USER and INTAKE_SECRET, and with a fresh timestamp so that no request goes stale."""

import base64
import hashlib
import hmac
import os
import time

import schemathesis

USER = os.environ["INTAKE_USER"]
SECRET = os.environ["INTAKE_SECRET"]
PUBLIC = ("/api/v1/time", "/api/v1/openapi.json", "/healthz", "/readyz")


def signature_headers():
    timestamp = str(int(time.time()))
    message = f"name:{USER};timestamp:{timestamp};".encode()
    digest = hmac.new(SECRET.encode(), message, hashlib.sha256).digest()
    password = base64.b64encode(digest).decode()
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return {"X-API-Timestamp": timestamp, "Authorization": f"Basic {token}"}


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.path in PUBLIC:
        return
    case.headers = {**(case.headers or {}), **signature_headers()}


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    # The test's own project, so that requests reach the session routes instead of a 403.
    if path_parameters and "project_id" in path_parameters:
        path_parameters["project_id"] = int(os.environ["INTAKE_PROJECT"])
    return path_parameters

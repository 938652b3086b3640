"""The server under test and the SDK clients, from the environment that
tests/sdk/run.sh sets (VOUCHER_URL, VOUCHER_APP_ID, VOUCHER_APP_TOKEN,
VOUCHER_CLIENT_APP_ID, VOUCHER_CLIENT_TOKEN, VOUCHER_ORIGIN).

Every response goes through the SDK's pydantic models: a field of the wrong
type or an enum value the SDK does not know fails the call. That is the
strictness check of the wire format."""

import json
import os
import random
import string
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import voucherify
from voucherify.exceptions import ApiException


def _env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: run the suite through tests/sdk/run.sh python")
    return value


URL = _env("VOUCHER_URL")
APP_ID = _env("VOUCHER_APP_ID")
APP_TOKEN = _env("VOUCHER_APP_TOKEN")
CLIENT_APP_ID = _env("VOUCHER_CLIENT_APP_ID")
CLIENT_TOKEN = _env("VOUCHER_CLIENT_TOKEN")
ORIGIN = _env("VOUCHER_ORIGIN")


def server_client():
    cfg = voucherify.Configuration(host=URL, api_key={"X-App-Id": APP_ID, "X-App-Token": APP_TOKEN})
    return voucherify.ApiClient(cfg)


def client_side_client():
    cfg = voucherify.Configuration(
        host=URL, api_key={"X-Client-Application-Id": CLIENT_APP_ID, "X-Client-Token": CLIENT_TOKEN}
    )
    return voucherify.ApiClient(cfg)


def unique(prefix):
    """A name no other test (nor the JS suite) uses."""
    tail = "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(6))
    return f"{prefix}-{int(time.time() * 1000) % 10**8:08d}{tail}"


def error_key(exc):
    """The `key` of an error body the SDK kept raw."""
    try:
        return json.loads(exc.body).get("key")
    except (TypeError, ValueError, AttributeError):
        return None


def raw(method, path, body=None, headers=None, server=True):
    """Raw HTTP for what no SDK method does: (status, headers, text)."""
    h = dict(headers or {})
    if server:
        h["X-App-Id"] = APP_ID
        h["X-App-Token"] = APP_TOKEN
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    request = urllib.request.Request(urllib.parse.urljoin(URL, path), data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class Flow(unittest.TestCase):
    """A flow of SDK calls, one test each, run in name order (test_01_...)
    and sharing state on the class; a step whose precondition an earlier step
    should have left says so."""

    state = None

    @classmethod
    def setUpClass(cls):
        cls.state = {}
        cls.api = server_client()

    def need(self, name):
        if name not in self.state:
            self.fail(f"precondition: {name} is missing (an earlier step failed)")
        return self.state[name]

    def refused(self, call, status, key=None):
        with self.assertRaises(ApiException) as caught:
            call()
        exc = caught.exception
        self.assertEqual(exc.status, status, exc.body)
        if key is not None:
            self.assertEqual(error_key(exc), key, exc.body)
        return exc

    def async_done(self, action_id):
        api = voucherify.AsyncActionsApi(self.api)
        action = None
        for _ in range(400):
            action = api.get_async_action(action_id)
            if action.status in ("DONE", "FAILED"):
                return action
            time.sleep(0.05)
        return action

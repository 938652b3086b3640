// The server under test and the SDK clients, from the environment that
// tests/sdk/run.sh sets (VOUCHER_URL, VOUCHER_APP_ID, VOUCHER_APP_TOKEN,
// VOUCHER_CLIENT_APP_ID, VOUCHER_CLIENT_TOKEN, VOUCHER_ORIGIN).
'use strict';

const assert = require('node:assert/strict');
const { VoucherifyServerSide, VoucherifyClientSide } = require('@voucherify/sdk');

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite through tests/sdk/run.sh js`);
  }
  return value;
}

const url = env('VOUCHER_URL');
const appId = env('VOUCHER_APP_ID');
const appToken = env('VOUCHER_APP_TOKEN');
const clientAppId = env('VOUCHER_CLIENT_APP_ID');
const clientToken = env('VOUCHER_CLIENT_TOKEN');
const origin = env('VOUCHER_ORIGIN');

function server() {
  return VoucherifyServerSide({ applicationId: appId, secretKey: appToken, apiUrl: url });
}

function client(options = {}) {
  return VoucherifyClientSide({
    clientApplicationId: clientAppId,
    clientSecretKey: clientToken,
    apiUrl: url,
    origin,
    ...options,
  });
}

// A suffix that keeps the names of one test file apart from the others'
// (the files run at once against one server).
function unique(prefix) {
  return `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 7)}`.toUpperCase();
}

// Awaits a call that must fail, and returns the SDK's VoucherifyError.
async function refused(promise, { status, key }) {
  let error;
  try {
    const value = await promise;
    assert.fail(`expected a ${status} ${key} error, got ${JSON.stringify(value)}`);
  } catch (e) {
    error = e;
  }
  if (error instanceof assert.AssertionError) throw error;
  assert.equal(error.code, status, `status of ${JSON.stringify(errorBody(error))}`);
  if (key !== undefined) assert.equal(error.key, key, `key of ${JSON.stringify(errorBody(error))}`);
  assert.match(String(error.request_id), /^v-/, 'the error body has a request_id');
  return error;
}

function errorBody(e) {
  return { code: e.code, key: e.key, message: e.message, details: e.details };
}

// A value an earlier step of the same flow should have left; says so when
// that step failed, instead of a TypeError further down.
function need(value, what) {
  if (value === undefined || value === null) {
    throw new Error(`precondition: ${what} is missing (an earlier step failed)`);
  }
  return value;
}

// A `before` hook that does not cancel the tests when it fails: each test
// that needs it calls the returned function first, which throws the setup's
// error, so the report still lists every SDK call.
function setup(before, fn) {
  let failure;
  before(async () => {
    try {
      await fn();
    } catch (e) {
      failure = e;
    }
  });
  return () => {
    if (failure) throw new Error(`setup failed: ${failure.message} (${failure.key || ''} ${failure.details || ''})`);
  };
}

// Polls an async action until it is DONE (or FAILED), with the SDK.
async function asyncActionDone(sdk, id) {
  let action;
  for (let i = 0; i < 400; i++) {
    action = await sdk.asyncActions.get(id);
    if (action.status === 'DONE' || action.status === 'FAILED') return action;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return action;
}

// Raw HTTP for what no SDK method does.
async function raw(method, path, { body, headers = {}, server = true } = {}) {
  const h = { ...headers };
  if (server) {
    h['X-App-Id'] = appId;
    h['X-App-Token'] = appToken;
  }
  if (body !== undefined && typeof body !== 'string' && !(body instanceof FormData)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  const response = await fetch(new URL(path, url), { method, headers: h, body });
  const text = await response.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

module.exports = {
  url,
  appId,
  appToken,
  clientAppId,
  clientToken,
  origin,
  server,
  client,
  unique,
  refused,
  need,
  setup,
  asyncActionDone,
  raw,
};

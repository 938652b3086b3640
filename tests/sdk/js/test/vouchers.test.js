// Vouchers with the JS SDK: create (with and without code, percent-encoded
// codes), get, update, list, enable/disable, delete, gift balance and
// transactions, JSON and CSV import as async actions.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { server, unique, refused, need, asyncActionDone, raw, url } = require('./env');

const sdk = server();
const CODE = unique('P25');
const SPECIAL = `${unique('AB')} C/1`;
const GIFT = unique('GIFT');
const state = {};

describe('vouchers', () => {
  it('vouchers.create with a code (POST /v1/vouchers/{code})', async () => {
    const v = await sdk.vouchers.create({
      code: CODE,
      type: 'DISCOUNT_VOUCHER',
      discount: { type: 'PERCENT', percent_off: 25 },
      redemption: { quantity: 2 },
      metadata: { lang: 'en' },
    });
    assert.equal(v.object, 'voucher');
    assert.equal(v.code, CODE);
    assert.match(v.id, /^v_/);
    assert.equal(v.type, 'DISCOUNT_VOUCHER');
    assert.equal(v.discount.type, 'PERCENT');
    assert.equal(v.discount.percent_off, 25);
    assert.equal(v.active, true);
    assert.equal(v.redemption.quantity, 2);
    assert.equal(v.redemption.redeemed_quantity, 0);
    assert.deepEqual(v.metadata, { lang: 'en' });
    state.id = v.id;
  });

  it('vouchers.create with an existing code: 409 duplicate_found', async () => {
    await refused(
      sdk.vouchers.create({ code: CODE, type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 5 } }),
      { status: 409, key: 'duplicate_found' },
    );
  });

  it('vouchers.create without a code (POST /v1/vouchers/): 8 characters of 0-9a-zA-Z', async () => {
    const v = await sdk.vouchers.create({ type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 500 } });
    assert.match(v.code, /^[0-9a-zA-Z]{8}$/);
    assert.equal(v.discount.amount_off, 500);
  });

  it('POST /v1/vouchers without a code (raw HTTP, no trailing slash)', async () => {
    const r = await raw('POST', '/v1/vouchers', { body: { type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 10 } } });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.match(r.json.code, /^[0-9a-zA-Z]{8}$/);
  });

  it('vouchers.create and vouchers.get with a percent-encoded code', async () => {
    const v = await sdk.vouchers.create({ code: SPECIAL, type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 100 } });
    assert.equal(v.code, SPECIAL);
    const got = await sdk.vouchers.get(SPECIAL);
    assert.equal(got.code, SPECIAL);
  });

  it('vouchers.get by code and by id', async () => {
    const byCode = await sdk.vouchers.get(CODE);
    assert.equal(byCode.code, CODE);
    const byId = await sdk.vouchers.get(need(state.id, 'voucher id'));
    assert.equal(byId.code, CODE);
  });

  it('a voucher\'s assets: QR and barcode URLs under the server, no code in them, no key needed', async () => {
    const { assets } = await sdk.vouchers.get(SPECIAL);
    for (const kind of ['qr', 'barcode']) {
      assert.equal(assets[kind].url, `${url}/v1/assets/${kind}/${assets[kind].id}`);
      assert.ok(!assets[kind].url.includes(SPECIAL.split(' ')[0]), assets[kind].url);
      const response = await fetch(assets[kind].url);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'image/png');
    }
  });

  it('vouchers.get of an unknown code: 404 not_found', async () => {
    await refused(sdk.vouchers.get(unique('NOPE')), { status: 404, key: 'not_found' });
  });

  it('vouchers.update changes the fields given', async () => {
    const v = await sdk.vouchers.update({ code: CODE, metadata: { lang: 'pl' }, redemption: { quantity: 5 } });
    assert.equal(v.code, CODE);
    assert.deepEqual(v.metadata, { lang: 'pl' });
    assert.equal(v.redemption.quantity, 5);
    assert.equal(v.discount.percent_off, 25);
  });

  it('vouchers.update with the whole object read back ignores server-managed fields', async () => {
    const v = await sdk.vouchers.get(CODE);
    v.redemption.redeemed_quantity = 99;
    v.created_at = '2001-01-01T00:00:00.000Z';
    v.id = 'v_forged';
    v.additional_info = 'sent back whole';
    const updated = await sdk.vouchers.update(v);
    assert.equal(updated.additional_info, 'sent back whole');
    assert.equal(updated.redemption.redeemed_quantity, 0);
    assert.equal(updated.id, state.id);
    assert.notEqual(updated.created_at, '2001-01-01T00:00:00.000Z');
  });

  it('vouchers.list: old envelope, paging, created_at filter', async () => {
    const all = await sdk.vouchers.list({ limit: 100 });
    assert.equal(all.object, 'list');
    assert.equal(all.data_ref, 'vouchers');
    assert.ok(Array.isArray(all.vouchers));
    assert.equal(typeof all.total, 'number');
    assert.ok(all.vouchers.some((v) => v.code === CODE), 'the list has the new code');
    const page = await sdk.vouchers.list({ limit: 1, page: 1 });
    assert.equal(page.vouchers.length, 1);
    const future = await sdk.vouchers.list({ created_at: { after: '2200-01-01T00:00:00Z' } });
    assert.equal(future.vouchers.length, 0);
  });

  it('vouchers.disable and vouchers.enable', async () => {
    const off = await sdk.vouchers.disable(CODE);
    assert.equal(off.code, CODE);
    assert.equal(off.active, false);
    const on = await sdk.vouchers.enable(CODE);
    assert.equal(on.active, true);
  });

  it('vouchers.create a gift card', async () => {
    const g = await sdk.vouchers.create({ code: GIFT, type: 'GIFT_VOUCHER', gift: { amount: 10000 } });
    assert.equal(g.type, 'GIFT_VOUCHER');
    assert.equal(g.gift.amount, 10000);
    assert.equal(g.gift.balance, 10000);
  });

  it('vouchers.balance.create adds to a gift card', async () => {
    const b = await sdk.vouchers.balance.create(GIFT, { amount: 2500 });
    assert.equal(b.object, 'balance');
    assert.equal(b.amount, 2500);
    assert.equal(b.balance, 12500);
    assert.equal(b.type, 'gift_voucher');
    assert.equal(b.operation_type, 'MANUAL');
    const g = await sdk.vouchers.get(GIFT);
    assert.equal(g.gift.balance, 12500);
  });

  it('vouchers.balance.create refuses 0 (invalid_amount) and below zero (gift_amount_exceeded)', async () => {
    await refused(sdk.vouchers.balance.create(GIFT, { amount: 0 }), { status: 400, key: 'invalid_amount' });
    await refused(sdk.vouchers.balance.create(GIFT, { amount: -20000 }), { status: 400, key: 'gift_amount_exceeded' });
    const g = await sdk.vouchers.get(GIFT);
    assert.equal(g.gift.balance, 12500);
  });

  it('vouchers.listTransactions lists the balance change', async () => {
    const t = await sdk.vouchers.listTransactions(GIFT);
    assert.equal(t.object, 'list');
    assert.equal(t.data_ref, 'data');
    assert.ok(Array.isArray(t.data));
    const addition = t.data.find((x) => x.type === 'CREDITS_ADDITION');
    assert.ok(addition, `a CREDITS_ADDITION in ${JSON.stringify(t.data)}`);
    assert.equal(addition.details.balance.amount, 2500);
    assert.equal(addition.details.balance.balance, 12500);
  });

  it('vouchers.import (JSON) as an async action, asyncActions.get', async () => {
    const a = unique('IMP1');
    const b = unique('IMP2');
    const started = await sdk.vouchers.import([
      { code: a, type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 700 } },
      { code: b, type: 'GIFT_VOUCHER', gift: { amount: 3000 } },
    ]);
    assert.match(started.async_action_id, /^aa_/);
    const action = await asyncActionDone(sdk, started.async_action_id);
    assert.equal(action.object, 'async_action');
    assert.equal(action.id, started.async_action_id);
    assert.equal(action.status, 'DONE', JSON.stringify(action));
    assert.equal((await sdk.vouchers.get(a)).discount.amount_off, 700);
    assert.equal((await sdk.vouchers.get(b)).gift.balance, 3000);
  });

  it('vouchers.importCSV as an async action', async () => {
    const a = unique('CSV1');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'voucher-sdk-')), 'vouchers.csv');
    fs.writeFileSync(file, `Code,Voucher Type,Value,Discount Type\n${a},DISCOUNT_VOUCHER,15,PERCENT\n`);
    const started = await sdk.vouchers.importCSV(file);
    assert.match(started.async_action_id, /^aa_/);
    const action = await asyncActionDone(sdk, started.async_action_id);
    assert.equal(action.status, 'DONE', JSON.stringify(action));
    const v = await sdk.vouchers.get(a);
    assert.equal(v.discount.type, 'PERCENT');
    assert.equal(v.discount.percent_off, 15);
  });

  it('vouchers.delete (force) then get: 404', async () => {
    const gone = await sdk.vouchers.delete(SPECIAL, { force: true });
    assert.ok(gone === '' || gone === undefined, `204 with no body, got ${JSON.stringify(gone)}`);
    await refused(sdk.vouchers.get(SPECIAL), { status: 404, key: 'not_found' });
  });
});

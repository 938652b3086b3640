// The client side with VoucherifyClientSide (publishable keys and origin):
// validate, redeem, validateStackable, redeemStackable, qualifications,
// publish; CORS preflight, keys refused, exports with download, health.
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { setup, server, client, unique, refused, need, raw, origin, clientAppId, clientToken, appId } = require('./env');

const sdk = server();
const shop = client();
const CODE = unique('C10');
const CAMPAIGN = unique('Newsletter');
const PREFIX = unique('N').slice(0, 10);
const SOURCE = unique('visitor').toLowerCase();

describe('client side', () => {
  const ready1 = setup(before, async () => {
    await sdk.vouchers.create({ code: CODE, type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 10 }, redemption: { quantity: 10 } });
    await sdk.campaigns.create({
      name: CAMPAIGN,
      campaign_type: 'DISCOUNT_COUPONS',
      type: 'STATIC',
      vouchers_count: 2,
      voucher: { type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 200 }, code_config: { pattern: `${PREFIX}-####` } },
    });
    for (let i = 0; i < 400; i++) {
      const c = await sdk.campaigns.get(CAMPAIGN);
      if (c.vouchers_generation_status !== 'IN_PROGRESS') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  it('client validate(code) (GET /client/v1/validate): no amount, so missing_amount', async () => {
    ready1();
    // The engine needs an order amount for an order-level discount.
    const r = await shop.validate(CODE);
    assert.equal(r.valid, false, JSON.stringify(r));
    assert.equal(r.code, CODE);
    assert.equal(r.error.key, 'missing_amount', JSON.stringify(r));
  });

  it('client validate({code, amount, customer}): 10% of 40.00', async () => {
    ready1();
    const r = await shop.validate({ code: CODE, amount: 4000, customer: { source_id: SOURCE } });
    assert.equal(r.valid, true, JSON.stringify(r));
    assert.equal(r.order.amount, 4000);
    assert.equal(r.order.discount_amount, 400);
  });

  it('client validate({code, items}): lines in the query string (item[0][price]=...)', async () => {
    ready1();
    const r = await shop.validate({ code: CODE, items: [{ product_id: 'prod_tea', quantity: 2, price: 1500 }] });
    assert.equal(r.valid, true, JSON.stringify(r));
    assert.equal(r.order.amount, 3000);
    assert.equal(r.order.discount_amount, 300);
  });

  it('client redeem (POST /client/v1/redeem?code=)', async () => {
    ready1();
    const r = await shop.redeem(CODE, { order: { amount: 4000 }, customer: { source_id: SOURCE } });
    assert.equal(r.object, 'redemption');
    assert.equal(r.result, 'SUCCESS');
    assert.equal(r.order.discount_amount, 400);
  });

  it('client validateStackable', async () => {
    ready1();
    const r = await shop.validateStackable({ redeemables: [{ object: 'voucher', id: CODE }], order: { amount: 4000 }, customer: { source_id: SOURCE } });
    assert.equal(r.valid, true, JSON.stringify(r));
    assert.equal(r.redeemables[0].status, 'APPLICABLE');
    assert.equal(r.order.total_discount_amount, 400);
  });

  it('client redeemStackable', async () => {
    ready1();
    const r = await shop.redeemStackable({ redeemables: [{ object: 'voucher', id: CODE }], order: { amount: 4000 }, customer: { source_id: SOURCE } });
    assert.equal(r.redemptions.length, 1, JSON.stringify(r));
    assert.equal(r.redemptions[0].result, 'SUCCESS');
    assert.equal(r.parent_redemption.object, 'redemption');
    assert.equal(r.order.total_amount, 3600);
  });

  it('client qualifications', async () => {
    ready1();
    const r = await shop.qualifications({ customer: { source_id: SOURCE }, order: { amount: 4000 }, scenario: 'ALL' });
    assert.equal(r.redeemables.object, 'list');
    assert.ok(Array.isArray(r.redeemables.data));
  });

  it('client publish (POST /client/v1/publish?campaign=)', async () => {
    ready1();
    const r = await shop.publish(CAMPAIGN, { customer: { source_id: SOURCE } });
    assert.equal(r.object, 'publication');
    assert.equal(r.result, 'SUCCESS');
    assert.match(r.voucher.code, new RegExp(`^${PREFIX}-`));
  });

  it('a client key from another origin is refused', async () => {
    ready1();
    const elsewhere = client({ origin: 'http://elsewhere.test' });
    const e = await refused(elsewhere.validate(CODE), { status: 401, key: 'unauthorized' });
    assert.ok(e);
  });

  it('CORS preflight for the allowed origin (raw HTTP)', async () => {
    ready1();
    const r = await raw('OPTIONS', '/client/v1/validations', {
      server: false,
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'x-client-application-id,x-client-token,content-type',
      },
    });
    assert.ok(r.status >= 200 && r.status < 300, `status ${r.status}`);
    assert.equal(r.headers.get('access-control-allow-origin'), origin);
  });

});

describe('exports', () => {
  const CODE2 = unique('EXP');

  const ready2 = setup(before, async () => {
    await sdk.vouchers.create({ code: CODE2, type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 100 } });
    await sdk.redemptions.redeem(CODE2, { order: { amount: 1000 } });
  });

  async function exportDone(id) {
    let e;
    for (let i = 0; i < 400; i++) {
      e = await sdk.distributions.exports.get(id);
      if (e.status === 'DONE' || e.status === 'ERROR' || e.status === 'FAILED') return e;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return e;
  }

  async function download(e) {
    const url = need(e.result && e.result.url, 'export result.url');
    const r = await raw('GET', url);
    assert.equal(r.status, 200, r.text);
    return r.text;
  }

  it('distributions.exports.create/get and download: vouchers as CSV', async () => {
    ready2();
    const created = await sdk.distributions.exports.create({ exported_object: 'voucher', parameters: { fields: ['code', 'voucher_type'] } });
    assert.match(created.id, /^exp_/);
    assert.equal(created.object, 'export');
    assert.equal(created.exported_object, 'voucher');
    const done = await exportDone(created.id);
    assert.equal(done.status, 'DONE', JSON.stringify(done));
    const csv = await download(done);
    assert.ok(csv.split('\n').some((line) => line.startsWith(`${CODE2},`)), csv.slice(0, 500));
  });

  it('distributions.exports.create/get and download: redemptions as CSV', async () => {
    ready2();
    const created = await sdk.distributions.exports.create({ exported_object: 'redemption', parameters: { fields: ['id', 'voucher_code', 'result'] } });
    assert.match(created.id, /^exp_/);
    const done = await exportDone(created.id);
    assert.equal(done.status, 'DONE', JSON.stringify(done));
    const csv = await download(done);
    assert.ok(csv.includes(CODE2), csv.slice(0, 500));
  });
});

describe('keys and health', () => {
  it('CORS preflight from an origin no client key allows: not allowed (raw HTTP)', async () => {
    const r = await raw('OPTIONS', '/client/v1/validations', {
      server: false,
      headers: { Origin: 'http://elsewhere.test', 'Access-Control-Request-Method': 'POST' },
    });
    assert.notEqual(r.headers.get('access-control-allow-origin'), 'http://elsewhere.test');
    assert.notEqual(r.headers.get('access-control-allow-origin'), '*');
  });

  it('a client key on a server endpoint: 401 unauthorized (raw HTTP)', async () => {
    const r = await raw('GET', '/v1/vouchers', {
      server: false,
      headers: { 'X-App-Id': clientAppId, 'X-App-Token': clientToken, 'X-Client-Application-Id': clientAppId, 'X-Client-Token': clientToken, Origin: origin },
    });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.key, 'unauthorized');
  });

  it('a wrong secret: 401 unauthorized', async () => {
    const { VoucherifyServerSide } = require('@voucherify/sdk');
    const wrong = VoucherifyServerSide({ applicationId: appId, secretKey: 'not-the-secret', apiUrl: require('./env').url });
    await refused(wrong.vouchers.list(), { status: 401, key: 'unauthorized' });
  });

  it('GET /health (raw HTTP)', async () => {
    const r = await raw('GET', '/health', { server: false });
    assert.equal(r.status, 200);
  });
});

// Campaigns with the JS SDK: create with code_config and vouchers_count, get
// by id or name, update, list, add vouchers (count or a given code), import
// (JSON and CSV), enable/disable, delete.
'use strict';

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { server, unique, refused, need, asyncActionDone } = require('./env');

const sdk = server();
// A space and a slash: the SDK percent-encodes the name in paths.
const NAME = `Spring sale/${unique('S')}`;
const PREFIX = unique('S').slice(0, 10);
const state = {};

async function campaignDone(nameOrId) {
  let c;
  for (let i = 0; i < 400; i++) {
    c = await sdk.campaigns.get(nameOrId);
    if (c.vouchers_generation_status !== 'IN_PROGRESS') return c;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return c;
}

describe('campaigns', () => {
  it('campaigns.create with code_config and vouchers_count', async () => {
    const c = await sdk.campaigns.create({
      name: NAME,
      campaign_type: 'DISCOUNT_COUPONS',
      type: 'STATIC',
      vouchers_count: 3,
      voucher: {
        type: 'DISCOUNT_VOUCHER',
        discount: { type: 'AMOUNT', amount_off: 1000 },
        redemption: { quantity: 1 },
        code_config: { pattern: `${PREFIX}-####` },
      },
      metadata: { season: 'spring' },
    });
    assert.equal(c.object, 'campaign');
    assert.match(c.id, /^camp_/);
    assert.equal(c.name, NAME);
    assert.equal(c.campaign_type, 'DISCOUNT_COUPONS');
    assert.equal(c.type, 'STATIC');
    assert.ok(['IN_PROGRESS', 'DONE'].includes(c.vouchers_generation_status), c.vouchers_generation_status);
    state.id = c.id;
  });

  it('campaigns.create with an existing name: 409 duplicate_found', async () => {
    await refused(
      sdk.campaigns.create({ name: NAME, campaign_type: 'DISCOUNT_COUPONS', type: 'STATIC', voucher: { type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 5 } } }),
      { status: 409, key: 'duplicate_found' },
    );
  });

  it('campaigns.get by name and by id, codes generated', async () => {
    const byName = await campaignDone(NAME);
    assert.equal(byName.vouchers_generation_status, 'DONE');
    assert.equal(byName.vouchers_count, 3);
    assert.equal(byName.voucher.discount.amount_off, 1000);
    const byId = await sdk.campaigns.get(need(state.id, 'campaign id'));
    assert.equal(byId.name, NAME);
    const codes = await sdk.vouchers.list({ campaign: NAME, limit: 100 });
    assert.equal(codes.total, 3);
    for (const v of codes.vouchers) {
      assert.match(v.code, new RegExp(`^${PREFIX}-[0-9a-zA-Z]{4}$`));
      assert.equal(v.campaign, NAME);
      assert.equal(v.campaign_id, state.id);
    }
  });

  it('campaigns.update', async () => {
    const c = await sdk.campaigns.update(need(state.id, 'campaign id'), { description: 'spring sale', metadata: { season: 'late spring' } });
    assert.equal(c.description, 'spring sale');
    assert.deepEqual(c.metadata, { season: 'late spring' });
    assert.equal(c.name, NAME);
  });

  it('campaigns.list', async () => {
    const list = await sdk.campaigns.list({ limit: 100 });
    assert.equal(list.object, 'list');
    assert.equal(list.data_ref, 'campaigns');
    assert.ok(list.campaigns.some((c) => c.name === NAME));
    assert.equal(typeof list.total, 'number');
  });

  it('campaigns.addVoucher: one code', async () => {
    const v = await sdk.campaigns.addVoucher(NAME);
    assert.equal(v.object, 'voucher');
    assert.equal(v.campaign, NAME);
    assert.match(v.code, new RegExp(`^${PREFIX}-`));
    assert.equal(v.discount.amount_off, 1000);
  });

  it('campaigns.addVoucher with vouchers_count 2: async action', async () => {
    const started = await sdk.campaigns.addVoucher(NAME, {}, { vouchers_count: 2 });
    assert.match(started.async_action_id, /^aa_/);
    const action = await asyncActionDone(sdk, started.async_action_id);
    assert.equal(action.status, 'DONE', JSON.stringify(action));
    const codes = await sdk.vouchers.list({ campaign: NAME, limit: 100 });
    assert.equal(codes.total, 6);
  });

  it('campaigns.addCertainVoucher, and again: 409', async () => {
    const code = unique('OWN');
    const v = await sdk.campaigns.addCertainVoucher(NAME, code);
    assert.equal(v.code, code);
    assert.equal(v.campaign, NAME);
    assert.equal(v.discount.amount_off, 1000);
    await refused(sdk.campaigns.addCertainVoucher(NAME, code), { status: 409, key: 'duplicate_found' });
  });

  it('campaigns.importVouchers (JSON) as an async action', async () => {
    const code = unique('CIMP');
    const started = await sdk.campaigns.importVouchers(NAME, [{ code }]);
    assert.match(started.async_action_id, /^aa_/);
    const action = await asyncActionDone(sdk, started.async_action_id);
    assert.equal(action.status, 'DONE', JSON.stringify(action));
    const v = await sdk.vouchers.get(code);
    assert.equal(v.campaign, NAME);
  });

  it('campaigns.importVouchersCSV as an async action', async () => {
    const code = unique('CCSV');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'voucher-sdk-')), 'codes.csv');
    fs.writeFileSync(file, `Code\n${code}\n`);
    const started = await sdk.campaigns.importVouchersCSV(need(state.id, 'campaign id'), file);
    assert.match(started.async_action_id, /^aa_/);
    const action = await asyncActionDone(sdk, started.async_action_id);
    assert.equal(action.status, 'DONE', JSON.stringify(action));
    const v = await sdk.vouchers.get(code);
    assert.equal(v.campaign, NAME);
  });

  it('campaigns.disable and campaigns.enable', async () => {
    await sdk.campaigns.disable(need(state.id, 'campaign id'));
    assert.equal((await sdk.campaigns.get(state.id)).active, false);
    await sdk.campaigns.enable(state.id);
    assert.equal((await sdk.campaigns.get(state.id)).active, true);
  });

  it('campaigns.delete (force): async action, then get: 404', async () => {
    const started = await sdk.campaigns.delete(NAME, { force: true });
    assert.match(started.async_action_id, /^aa_/);
    const action = await asyncActionDone(sdk, started.async_action_id);
    assert.equal(action.status, 'DONE', JSON.stringify(action));
    await refused(sdk.campaigns.get(NAME), { status: 404, key: 'not_found' });
  });
});

// Customers, publications and validation rules with the JS SDK.
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { setup, server, unique, refused, need, raw } = require('./env');

const sdk = server();

describe('customers', () => {
  const SOURCE = unique('shopper').toLowerCase();
  const state = {};

  it('customers.create', async () => {
    const c = await sdk.customers.create({ source_id: SOURCE, name: 'Ada', email: 'ada@example.com', metadata: { tier: 'gold' } });
    assert.equal(c.object, 'customer');
    assert.match(c.id, /^cust_/);
    assert.equal(c.source_id, SOURCE);
    assert.equal(c.name, 'Ada');
    assert.equal(c.email, 'ada@example.com');
    assert.deepEqual(c.metadata, { tier: 'gold' });
    state.id = c.id;
  });

  it('customers.create again with the same source_id: upsert', async () => {
    const c = await sdk.customers.create({ source_id: SOURCE, name: 'Ada L.' });
    assert.equal(c.id, need(state.id, 'customer id'));
    assert.equal(c.name, 'Ada L.');
  });

  it('customers.get by id and by source_id', async () => {
    assert.equal((await sdk.customers.get(need(state.id, 'customer id'))).source_id, SOURCE);
    assert.equal((await sdk.customers.get(SOURCE)).id, state.id);
  });

  it('customers.update by source_id and by id', async () => {
    const a = await sdk.customers.update({ source_id: SOURCE, email: 'ada@lovelace.test' });
    assert.equal(a.email, 'ada@lovelace.test');
    assert.equal(a.id, need(state.id, 'customer id'));
    const b = await sdk.customers.update({ id: state.id, phone: '+44 20 0000 0000' });
    assert.equal(b.phone, '+44 20 0000 0000');
    assert.equal(b.email, 'ada@lovelace.test');
  });

  it('customers.list', async () => {
    const list = await sdk.customers.list({ limit: 100 });
    assert.equal(list.object, 'list');
    assert.equal(list.data_ref, 'customers');
    assert.ok(list.customers.some((c) => c.id === state.id));
    assert.equal(typeof list.total, 'number');
  });

  it('customers.delete then get: 404', async () => {
    const gone = await sdk.customers.delete(need(state.id, 'customer id'));
    assert.ok(gone === '' || gone === undefined, JSON.stringify(gone));
    await refused(sdk.customers.get(state.id), { status: 404, key: 'not_found' });
  });
});

describe('publications', () => {
  const CAMPAIGN = unique('Welcome');
  const PREFIX = unique('W').slice(0, 10);
  const CODE = unique('SOLO');
  const SOURCE = unique('reader').toLowerCase();
  const state = {};

  const ready1 = setup(before, async () => {
    await sdk.campaigns.create({
      name: CAMPAIGN,
      campaign_type: 'DISCOUNT_COUPONS',
      type: 'STATIC',
      vouchers_count: 3,
      voucher: { type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 10 }, code_config: { pattern: `${PREFIX}-####` } },
    });
    for (let i = 0; i < 400; i++) {
      const c = await sdk.campaigns.get(CAMPAIGN);
      if (c.vouchers_generation_status !== 'IN_PROGRESS') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await sdk.vouchers.create({ code: CODE, type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 300 } });
  });

  it('distributions.publications.create from a campaign', async () => {
    ready1();
    const p = await sdk.distributions.publications.create({ campaign: { name: CAMPAIGN }, customer: { source_id: SOURCE }, metadata: { via: 'sdk' } });
    assert.equal(p.object, 'publication');
    assert.match(p.id, /^pub_/);
    assert.equal(p.result, 'SUCCESS');
    assert.equal(p.channel, 'API');
    assert.match(p.voucher.code, new RegExp(`^${PREFIX}-`));
    assert.match(p.customer_id, /^cust_/);
    const v = await sdk.vouchers.get(p.voucher.code);
    assert.equal(v.holder_id, p.customer_id);
    state.id = p.id;
  });

  it('distributions.publications.create of a given code', async () => {
    ready1();
    const p = await sdk.distributions.publications.create({ voucher: CODE, customer: { source_id: SOURCE } });
    assert.equal(p.voucher.code, CODE);
    assert.equal(p.result, 'SUCCESS');
  });

  it('GET /v1/publications/create (raw HTTP)', async () => {
    ready1();
    const q = new URLSearchParams({ campaign: CAMPAIGN, 'customer[source_id]': SOURCE });
    const r = await raw('GET', `/v1/publications/create?${q}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'publication');
    assert.match(r.json.voucher.code, new RegExp(`^${PREFIX}-`));
  });

  it('distributions.publications.list', async () => {
    ready1();
    const list = await sdk.distributions.publications.list({ limit: 100 });
    assert.equal(list.object, 'list');
    assert.equal(list.data_ref, 'publications');
    assert.ok(list.publications.some((p) => p.id === need(state.id, 'publication id')));
    const mine = await sdk.distributions.publications.list({ customer: SOURCE, limit: 100 });
    assert.ok(mine.publications.length >= 2, JSON.stringify(mine));
  });
});

describe('validation rules', () => {
  const NAME = unique('big-orders');
  const CODE = unique('RULED');
  const state = {};


  it('validationRules.create (amounts in minor units)', async () => {
    const r = await sdk.validationRules.create({
      name: NAME,
      type: 'basic',
      rules: { 1: { name: 'order.amount', conditions: { $more_than: [10000] } }, logic: '1' },
      error: { message: 'Spend more than 100.00' },
    });
    assert.match(r.id, /^val_/);
    assert.equal(r.name, NAME);
    assert.equal(r.object, 'validation_rules');
    assert.deepEqual(r.rules['1'].conditions, { $more_than: [10000] });
    state.id = r.id;
  });

  it('validationRules.get', async () => {
    const r = await sdk.validationRules.get(need(state.id, 'rule id'));
    assert.equal(r.name, NAME);
  });

  it('validationRules.update', async () => {
    const r = await sdk.validationRules.update({ id: need(state.id, 'rule id'), error: { message: 'Orders over 100.00 only' } });
    assert.equal(r.error.message, 'Orders over 100.00 only');
    assert.equal(r.name, NAME);
  });

  it('validationRules.list', async () => {
    const list = await sdk.validationRules.list({ limit: 100 });
    assert.equal(list.object, 'list');
    assert.equal(list.data_ref, 'data');
    assert.ok(list.data.some((r) => r.id === state.id));
  });

  it('validationRules.createAssignment (legacy {voucher}) and the rule applies', async () => {
    await sdk.vouchers.create({ code: CODE, type: 'DISCOUNT_VOUCHER', discount: { type: 'AMOUNT', amount_off: 1500 } });
    const a = await sdk.validationRules.createAssignment(need(state.id, 'rule id'), { voucher: CODE });
    assert.match(a.id, /^asgm_/);
    assert.equal(a.object, 'validation_rules_assignment');
    assert.equal(a.rule_id, state.id);
    assert.equal(a.related_object_type, 'voucher');
    state.assignment = a.id;
    const small = await sdk.validations.validateVoucher(CODE, { order: { amount: 5000 } });
    assert.equal(small.valid, false);
    assert.equal(small.error.key, 'order_rules_violated', JSON.stringify(small));
    // The rule set's own message, in the error body's `error.message`.
    assert.equal(small.error.error && small.error.error.message, 'Orders over 100.00 only', JSON.stringify(small));
    const big = await sdk.validations.validateVoucher(CODE, { order: { amount: 20000 } });
    assert.equal(big.valid, true, JSON.stringify(big));
    assert.equal(big.order.discount_amount, 1500);
  });

  it('validationRules.listAssignments', async () => {
    const list = await sdk.validationRules.listAssignments(need(state.id, 'rule id'));
    assert.equal(list.object, 'list');
    assert.ok(list.data.some((a) => a.id === state.assignment));
  });

  it('validationRules.deleteAssignment', async () => {
    await sdk.validationRules.deleteAssignment(need(state.id, 'rule id'), need(state.assignment, 'assignment id'));
    const r = await sdk.validations.validateVoucher(CODE, { order: { amount: 5000 } });
    assert.equal(r.valid, true, JSON.stringify(r));
  });

  it('validationRules.delete then get: 404', async () => {
    await sdk.validationRules.delete(need(state.id, 'rule id'));
    await refused(sdk.validationRules.get(state.id), { status: 404, key: 'not_found' });
  });
});

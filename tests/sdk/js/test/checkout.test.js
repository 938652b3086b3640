// Checkout with the JS SDK: legacy and stackable validation and redemption,
// redemptions get/list/for a voucher, rollbacks (single and stacked),
// qualifications.
'use strict';

const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const { setup, server, unique, refused, need } = require('./env');

const sdk = server();
const P25 = unique('P25');
const EXPIRED = unique('OLD');
const GIFT = unique('GIFT');
const CUSTOMER = unique('cust').toLowerCase();
const state = {};

describe('checkout', () => {
  const ready1 = setup(before, async () => {
    await sdk.vouchers.create({ code: P25, type: 'DISCOUNT_VOUCHER', discount: { type: 'PERCENT', percent_off: 25 }, redemption: { quantity: 1 } });
    await sdk.vouchers.create({
      code: EXPIRED,
      type: 'DISCOUNT_VOUCHER',
      discount: { type: 'AMOUNT', amount_off: 500 },
      start_date: '2020-01-01T00:00:00Z',
      expiration_date: '2020-12-31T23:59:59Z',
    });
    await sdk.vouchers.create({ code: GIFT, type: 'GIFT_VOUCHER', gift: { amount: 5000 } });
  });

  it('validations.validateVoucher: 25% of 40.00 is 10.00', async () => {
    ready1();
    const r = await sdk.validations.validateVoucher(P25, { order: { amount: 4000 }, customer: { source_id: CUSTOMER } });
    assert.equal(r.valid, true, JSON.stringify(r));
    assert.equal(r.code, P25);
    assert.equal(r.discount.type, 'PERCENT');
    assert.equal(r.discount.percent_off, 25);
    assert.equal(r.order.amount, 4000);
    assert.equal(r.order.discount_amount, 1000);
    assert.equal(r.order.total_amount, 3000);
  });

  it('validations.validateVoucher of an expired code: 200 valid false, error.key voucher_expired', async () => {
    ready1();
    const r = await sdk.validations.validateVoucher(EXPIRED, { order: { amount: 4000 } });
    assert.equal(r.valid, false);
    assert.equal(typeof r.reason, 'string');
    assert.equal(r.error.key, 'voucher_expired', JSON.stringify(r));
  });

  it('validations.validateStackable', async () => {
    ready1();
    const r = await sdk.validations.validateStackable({
      redeemables: [{ object: 'voucher', id: P25 }],
      order: { amount: 4000 },
      customer: { source_id: CUSTOMER },
    });
    assert.equal(r.valid, true, JSON.stringify(r));
    assert.ok(r.stacking_rules, 'stacking_rules');
    assert.equal(r.redeemables.length, 1);
    assert.equal(r.redeemables[0].status, 'APPLICABLE');
    assert.equal(r.redeemables[0].id, P25);
    assert.equal(r.redeemables[0].object, 'voucher');
    assert.equal(r.order.amount, 4000);
    assert.equal(r.order.total_discount_amount, 1000);
    assert.equal(r.order.total_amount, 3000);
  });

  it('validations.validateStackable with order lines: 25% of 2 x 15.00 + 10.00', async () => {
    ready1();
    const r = await sdk.validations.validateStackable({
      redeemables: [{ object: 'voucher', id: P25 }],
      order: {
        items: [
          { product_id: 'prod_tea', quantity: 2, price: 1500 },
          { product_id: 'prod_cup', quantity: 1, price: 1000 },
        ],
      },
    });
    assert.equal(r.valid, true, JSON.stringify(r));
    assert.equal(r.order.amount, 4000);
    assert.equal(r.order.total_discount_amount, 1000);
    assert.equal(r.order.total_amount, 3000);
  });

  it('validations.validateStackable with an unknown code: INAPPLICABLE', async () => {
    ready1();
    const unknown = unique('NOPE');
    const r = await sdk.validations.validateStackable({
      redeemables: [{ object: 'voucher', id: P25 }, { object: 'voucher', id: unknown }],
      order: { amount: 4000 },
    });
    assert.equal(r.valid, false);
    const bad = [...(r.inapplicable_redeemables || []), ...(r.redeemables || [])].find((x) => x.id === unknown);
    assert.ok(bad, JSON.stringify(r));
    assert.equal(bad.status, 'INAPPLICABLE');
    assert.ok(bad.result.error.key, JSON.stringify(bad));
  });

  it('redemptions.redeem: SUCCESS, 10.00 off 40.00', async () => {
    ready1();
    const r = await sdk.redemptions.redeem(P25, { order: { amount: 4000 }, customer: { source_id: CUSTOMER }, metadata: { till: 3 } });
    assert.equal(r.object, 'redemption');
    assert.match(r.id, /^r_/);
    assert.equal(r.result, 'SUCCESS');
    assert.equal(r.status, 'SUCCEEDED');
    assert.equal(r.order.amount, 4000);
    assert.equal(r.order.discount_amount, 1000);
    assert.equal(r.order.total_amount, 3000);
    assert.equal(r.voucher.code, P25);
    assert.equal(r.voucher.redemption.redeemed_quantity, 1);
    assert.equal(r.customer.source_id, CUSTOMER);
    state.redemption = r.id;
  });

  it('redemptions.redeem past the quantity: 400 quantity_exceeded, logged', async () => {
    ready1();
    const e = await refused(sdk.redemptions.redeem(P25, { order: { amount: 4000 } }), { status: 400, key: 'quantity_exceeded' });
    assert.equal(e.resource_type, 'redemption');
    assert.match(e.resource_id, /^rf_/);
  });

  it('redemptions.redeem of an expired code: 400 voucher_expired', async () => {
    ready1();
    await refused(sdk.redemptions.redeem(EXPIRED, { order: { amount: 4000 } }), { status: 400, key: 'voucher_expired' });
  });

  it('redemptions.redeem of an unknown code: 404', async () => {
    ready1();
    await refused(sdk.redemptions.redeem(unique('NOPE'), { order: { amount: 4000 } }), { status: 404 });
  });

  it('redemptions.get', async () => {
    ready1();
    const r = await sdk.redemptions.get(need(state.redemption, 'redemption id'));
    assert.equal(r.id, state.redemption);
    assert.equal(r.object, 'redemption');
    assert.equal(r.result, 'SUCCESS');
    assert.equal(r.voucher.code, P25);
  });

  it('redemptions.list, all and failures only', async () => {
    ready1();
    const all = await sdk.redemptions.list({ limit: 100 });
    assert.equal(all.object, 'list');
    assert.equal(all.data_ref, 'redemptions');
    assert.ok(all.redemptions.some((r) => r.id === state.redemption));
    const failed = await sdk.redemptions.list({ result: 'FAILURE', limit: 100 });
    assert.ok(failed.redemptions.length >= 2);
    assert.ok(failed.redemptions.every((r) => r.result === 'FAILURE'));
    assert.ok(failed.redemptions.some((r) => r.failure_code === 'quantity_exceeded'));
  });

  it('redemptions.getForVoucher: newest first, failures included', async () => {
    ready1();
    const r = await sdk.redemptions.getForVoucher(P25);
    assert.equal(r.object, 'list');
    assert.equal(r.data_ref, 'redemption_entries');
    assert.equal(r.quantity, 1);
    assert.equal(r.redeemed_quantity, 1);
    assert.equal(r.total, 2);
    assert.equal(r.redemption_entries.length, 2);
    assert.equal(r.redemption_entries[0].result, 'FAILURE');
    assert.equal(r.redemption_entries[1].id, state.redemption);
  });

  it('redemptions.rollback gives the use back', async () => {
    ready1();
    const r = await sdk.redemptions.rollback(need(state.redemption, 'redemption id'), 'changed mind');
    assert.equal(r.object, 'redemption_rollback');
    assert.match(r.id, /^rr_/);
    assert.equal(r.redemption, state.redemption);
    assert.equal(r.result, 'SUCCESS');
    assert.equal(r.status, 'SUCCEEDED');
    assert.equal(r.reason, 'changed mind');
    const v = await sdk.vouchers.get(P25);
    assert.equal(v.redemption.redeemed_quantity, 0);
  });

  it('redemptions.rollback again: 400 already_rolled_back', async () => {
    ready1();
    await refused(sdk.redemptions.rollback(need(state.redemption, 'redemption id'), { reason: 'again' }), {
      status: 400,
      key: 'already_rolled_back',
    });
  });

  it('redemptions.redeemStackable: 25% then 10.00 of gift credits on 40.00', async () => {
    ready1();
    const r = await sdk.redemptions.redeemStackable({
      redeemables: [
        { object: 'voucher', id: P25 },
        { object: 'voucher', id: GIFT, gift: { credits: 1000 } },
      ],
      order: { amount: 4000 },
      customer: { source_id: CUSTOMER },
    });
    assert.equal(r.redemptions.length, 2, JSON.stringify(r));
    assert.match(r.parent_redemption.id, /^r_/);
    assert.equal(r.parent_redemption.object, 'redemption');
    assert.equal(r.parent_redemption.result, 'SUCCESS');
    for (const child of r.redemptions) {
      assert.equal(child.redemption, r.parent_redemption.id);
      assert.equal(child.result, 'SUCCESS');
    }
    const gift = r.redemptions.find((x) => x.voucher && x.voucher.code === GIFT);
    assert.ok(gift, 'a child redemption of the gift card');
    assert.equal(gift.amount, 1000);
    assert.equal(gift.voucher.gift.balance, 4000);
    assert.equal(r.order.amount, 4000);
    assert.equal(r.order.total_amount, 2000);
    state.parent = r.parent_redemption.id;
  });

  it('redemptions.rollbackStackable rolls back every child', async () => {
    ready1();
    const r = await sdk.redemptions.rollbackStackable(need(state.parent, 'parent redemption id'), { reason: 'refund' });
    assert.equal(r.rollbacks.length, 2, JSON.stringify(r));
    assert.equal(r.parent_rollback.object, 'redemption_rollback');
    assert.match(r.parent_rollback.id, /^rr_/);
    for (const child of r.rollbacks) assert.equal(child.object, 'redemption_rollback');
    const g = await sdk.vouchers.get(GIFT);
    assert.equal(g.gift.balance, 5000);
  });

  it('redemptions.redeem of gift credits: the redemption amount is the credits spent; rollback returns them', async () => {
    ready1();
    const r = await sdk.redemptions.redeem(GIFT, { order: { amount: 3000 }, gift: { credits: 1200 } });
    assert.equal(r.result, 'SUCCESS');
    assert.equal(r.amount, 1200);
    assert.equal(r.voucher.gift.balance, 3800);
    assert.equal(r.order.total_amount, 1800);
    const back = await sdk.redemptions.rollback(r.id, { reason: 'returned' });
    assert.equal(back.object, 'redemption_rollback');
    assert.equal(back.amount, -1200);
    assert.equal((await sdk.vouchers.get(GIFT)).gift.balance, 5000);
  });

  it('qualifications.checkEligibility lists the applicable code', async () => {
    ready1();
    const r = await sdk.qualifications.checkEligibility({
      customer: { source_id: CUSTOMER },
      order: { amount: 4000 },
      scenario: 'ALL',
      options: { limit: 50 },
    });
    assert.equal(r.redeemables.object, 'list');
    assert.equal(r.redeemables.data_ref, 'data');
    assert.ok(Array.isArray(r.redeemables.data));
    assert.equal(typeof r.redeemables.total, 'number');
    assert.equal(typeof r.redeemables.has_more, 'boolean');
    const expired = r.redeemables.data.find((x) => x.id === EXPIRED);
    assert.equal(expired, undefined, 'an expired code does not qualify');
  });
});

"""Checkout with ValidationsApi, RedemptionsApi and QualificationsApi:
stackable validation and redemption, redemptions get/list/for a voucher,
rollbacks (single and stacked), qualifications."""

import json
import unittest

import voucherify as v

from support import Flow, raw, unique

P25 = unique("PYP25")
EXPIRED = unique("PYOLD")
GIFT = unique("PYGIFT")
CUSTOMER = unique("pycust").lower()


class Checkout(Flow):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        vouchers = v.VouchersApi(cls.api)
        specs = {
            P25: {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 25}, "redemption": {"quantity": 2}},
            EXPIRED: {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 500},
                "start_date": "2020-01-01T00:00:00Z",
                "expiration_date": "2020-12-31T23:59:59Z",
            },
            GIFT: {"type": "GIFT_VOUCHER", "gift": {"amount": 5000}},
        }
        cls.setup_error = None
        try:
            for code, spec in specs.items():
                vouchers.create_voucher(code, v.VouchersCreateWithSpecificCodeRequestBody.from_dict(spec))
        except Exception as e:  # reported by every test below
            cls.setup_error = e

    def setUp(self):
        if self.setup_error is not None:
            self.fail(f"setup failed: {self.setup_error}")
        self.validations = v.ValidationsApi(self.api)
        self.redemptions = v.RedemptionsApi(self.api)

    def test_01_validate_stacked_discounts(self):
        body = v.ValidationsValidateRequestBody.from_dict(
            {
                "redeemables": [{"object": "voucher", "id": P25}],
                "order": {"amount": 4000},
                "customer": {"source_id": CUSTOMER},
            }
        )
        r = self.validations.validate_stacked_discounts(body)
        self.assertTrue(r.valid, r)
        self.assertEqual(r.redeemables[0].status, "APPLICABLE")
        self.assertEqual(r.redeemables[0].id, P25)
        self.assertEqual(r.order.amount, 4000)
        self.assertEqual(r.order.total_discount_amount, 1000)
        self.assertEqual(r.order.total_amount, 3000)

    def test_01b_validate_stacked_discounts_gift_and_items(self):
        # Order lines (price x quantity) and gift credits: every amount in the
        # answer must be an integer of minor units for the SDK's models.
        body = v.ValidationsValidateRequestBody.from_dict(
            {
                "redeemables": [
                    {"object": "voucher", "id": P25},
                    {"object": "voucher", "id": GIFT, "gift": {"credits": 500}},
                ],
                "order": {
                    "items": [
                        {"source_id": "sku-tea", "related_object": "sku", "quantity": 2, "price": 1500},
                        {"source_id": "sku-cup", "related_object": "sku", "quantity": 1, "price": 1000},
                    ]
                },
            }
        )
        r = self.validations.validate_stacked_discounts(body)
        self.assertTrue(r.valid, r)
        self.assertEqual(r.order.amount, 4000)
        gift = [x for x in r.redeemables if x.id == GIFT][0]
        self.assertEqual(gift.result.gift.credits, 500)
        self.assertEqual(r.order.total_amount, 2500)

    def test_01c_validate_stacked_discounts_skipped(self):
        # Six applicable codes, five allowed by default: the sixth is SKIPPED
        # with details.key in the SDK's enum.
        vouchers = v.VouchersApi(self.api)
        codes = [unique("PYSIX") for _ in range(6)]
        for code in codes:
            vouchers.create_voucher(
                code,
                v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
                    {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
                ),
            )
        body = v.ValidationsValidateRequestBody.from_dict(
            {"redeemables": [{"object": "voucher", "id": c} for c in codes], "order": {"amount": 4000}}
        )
        r = self.validations.validate_stacked_discounts(body)
        self.assertTrue(r.valid, r)
        self.assertEqual(len([x for x in r.redeemables if x.status == "APPLICABLE"]), 5)
        self.assertEqual(r.order.total_discount_amount, 500)
        self.assertEqual([x.id for x in r.skipped_redeemables], [codes[5]])
        self.assertEqual(r.skipped_redeemables[0].status, "SKIPPED")
        self.assertEqual(r.skipped_redeemables[0].result.details.key, "applicable_redeemables_limit_exceeded")

    def test_02_validate_stacked_discounts_expired(self):
        body = v.ValidationsValidateRequestBody.from_dict(
            {"redeemables": [{"object": "voucher", "id": EXPIRED}], "order": {"amount": 4000}}
        )
        r = self.validations.validate_stacked_discounts(body)
        self.assertFalse(r.valid)
        bad = [x for x in (r.inapplicable_redeemables or []) + (r.redeemables or []) if x.id == EXPIRED]
        self.assertTrue(bad, r)
        self.assertEqual(bad[0].status, "INAPPLICABLE")
        self.assertEqual(bad[0].result.error.key, "voucher_expired")

    def test_03_redeem_stacked_discounts(self):
        body = v.RedemptionsRedeemRequestBody.from_dict(
            {
                "redeemables": [
                    {"object": "voucher", "id": P25},
                    {"object": "voucher", "id": GIFT, "gift": {"credits": 1000}},
                ],
                "order": {"amount": 4000},
                "customer": {"source_id": CUSTOMER},
            }
        )
        r = self.redemptions.redeem_stacked_discounts(body)
        self.assertEqual(len(r.redemptions), 2, r)
        self.assertTrue(r.parent_redemption.id.startswith("r_"))
        self.assertEqual(r.parent_redemption.result, "SUCCESS")
        self.assertEqual(r.order.total_amount, 2000)
        gift = [x for x in r.redemptions if x.voucher and x.voucher.code == GIFT]
        self.assertEqual(gift[0].amount, 1000)
        self.state["parent"] = r.parent_redemption.id
        self.state["child"] = [x.id for x in r.redemptions if x.voucher and x.voucher.code == P25][0]

    def test_04_redeem_stacked_discounts_refused(self):
        body = v.RedemptionsRedeemRequestBody.from_dict(
            {"redeemables": [{"object": "voucher", "id": EXPIRED}], "order": {"amount": 4000}}
        )
        self.refused(lambda: self.redemptions.redeem_stacked_discounts(body), 400, "voucher_expired")

    def test_05_get_redemption(self):
        r = self.redemptions.get_redemption(self.need("parent"))
        self.assertEqual(r.id, self.state["parent"])
        self.assertEqual(r.object, "redemption")
        self.assertEqual(r.result, "SUCCESS")
        child = self.redemptions.get_redemption(self.need("child"))
        self.assertEqual(child.redemption, self.state["parent"])

    def test_06_list_redemptions(self):
        r = self.redemptions.list_redemptions(limit=100)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "redemptions")
        self.assertIn(self.need("child"), [x.id for x in r.redemptions])
        failed = self.redemptions.list_redemptions(limit=100, result="FAILURE")
        self.assertTrue(all(x.result == "FAILURE" for x in failed.redemptions))

    def test_06a_list_redemptions_created_at(self):
        # created_at[after]=...+00:00&created_at[before]=None, as the SDK writes it.
        r = self.redemptions.list_redemptions(
            created_at=v.ParameterCreatedBeforeAfter.from_dict({"after": "2200-01-01T00:00:00Z"})
        )
        self.assertEqual(r.redemptions, [])

    def test_07_get_voucher_redemptions(self):
        r = self.redemptions.get_voucher_redemptions(P25)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "redemption_entries")
        self.assertEqual(r.quantity, 2)
        self.assertEqual(r.redeemed_quantity, 1)
        self.assertEqual(r.total, 1)
        self.assertEqual(r.redemption_entries[0].id, self.need("child"))

    def test_08_rollback_stacked_redemptions(self):
        r = self.redemptions.rollback_stacked_redemptions(self.need("parent"), reason="refund")
        self.assertEqual(len(r.rollbacks), 2, r)
        self.assertEqual(r.parent_rollback.object, "redemption_rollback")
        self.assertEqual(v.VouchersApi(self.api).get_voucher(GIFT).gift.balance, 5000)
        self.assertEqual(v.VouchersApi(self.api).get_voucher(P25).redemption.redeemed_quantity, 0)
        self.state["rollback"] = r.parent_rollback.id

    def test_08b_get_redemption_of_a_rollback(self):
        r = self.redemptions.get_redemption(self.need("rollback"))
        self.assertEqual(r.id, self.state["rollback"])
        self.assertEqual(r.object, "redemption_rollback")

    def test_09_rollback_redemption(self):
        # A single redemption: the legacy endpoint, which the Python SDK lacks.
        status, _, text = raw("POST", f"/v1/vouchers/{P25}/redemption", {"order": {"amount": 2000}})
        self.assertEqual(status, 200, text)
        single = json.loads(text)
        self.assertEqual(single["order"]["discount_amount"], 500)
        body = v.RedemptionsRollbackCreateRequestBody.from_dict({"reason": "wrong size"})
        r = self.redemptions.rollback_redemption(single["id"], reason="wrong size", redemptions_rollback_create_request_body=body)
        self.assertEqual(r.object, "redemption_rollback")
        self.assertTrue(r.id.startswith("rr_"))
        self.assertEqual(r.redemption, single["id"])
        self.assertEqual(r.status, "SUCCEEDED")
        self.refused(lambda: self.redemptions.rollback_redemption(single["id"]), 400, "already_rolled_back")

    def test_10_check_eligibility(self):
        q = v.QualificationsApi(self.api)
        body = v.QualificationsCheckEligibilityRequestBody.from_dict(
            {"customer": {"source_id": CUSTOMER}, "order": {"amount": 4000}, "scenario": "ALL", "options": {"limit": 50}}
        )
        r = q.check_eligibility(body)
        self.assertEqual(r.redeemables.object, "list")
        self.assertEqual(r.redeemables.data_ref, "data")
        self.assertNotIn(EXPIRED, [x.id for x in r.redeemables.data])

    def test_11_voucher_redemptions_after_rollbacks(self):
        entries = self.redemptions.get_voucher_redemptions(P25)
        self.assertEqual(entries.total, len(entries.redemption_entries))
        self.assertGreaterEqual(entries.total, 2)
        self.assertEqual(entries.redeemed_quantity, 0)

    def test_11b_list_redemptions_has_rollbacks(self):
        # The list holds rollbacks too (object redemption_rollback, which the
        # SDK's list item model accepts); every entry must parse.
        r = self.redemptions.list_redemptions(limit=100)
        self.assertIn("redemption_rollback", {x.object for x in r.redemptions})

    def test_12_customer_summary(self):
        c = v.CustomersApi(self.api).get_customer(CUSTOMER)
        self.assertEqual(c.source_id, CUSTOMER)
        self.assertGreaterEqual(c.summary.redemptions.total_redeemed, 1)

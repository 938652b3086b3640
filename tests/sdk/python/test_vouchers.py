"""Vouchers with VouchersApi: create (with and without code), get, update,
list, enable/disable, gift balance and transactions, JSON and CSV import,
delete; campaigns with CampaignsApi, summary included."""

import os
import tempfile
import time
import urllib.request

import voucherify as v

from support import URL, Flow, unique

CODE = unique("PY25")
GIFT = unique("PYGIFT")


class Vouchers(Flow):
    def setUp(self):
        self.vouchers = v.VouchersApi(self.api)

    def test_01_create_voucher(self):
        body = v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 25},
                "redemption": {"quantity": 2},
                "metadata": {"lang": "en"},
            }
        )
        r = self.vouchers.create_voucher(CODE, body)
        self.assertEqual(r.code, CODE)
        self.assertTrue(r.id.startswith("v_"))
        self.assertEqual(r.object, "voucher")
        self.assertEqual(r.type, "DISCOUNT_VOUCHER")
        self.assertEqual(r.discount.type, "PERCENT")
        self.assertEqual(r.discount.percent_off, 25)
        self.assertEqual(r.redemption.quantity, 2)
        self.assertEqual(r.redemption.redeemed_quantity, 0)
        self.assertTrue(r.active)
        self.state["id"] = r.id

    def test_01b_create_voucher_with_validity(self):
        # The validity fields both ways: days of the week, daily hours, dates.
        code = unique("PYWEEK")
        body = v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
            {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": 250, "effect": "APPLY_TO_ORDER"},
                "start_date": "2026-01-01T00:00:00Z",
                "expiration_date": "2099-12-31T23:59:59Z",
                "validity_day_of_week": [1, 2, 3, 4, 5],
                "validity_hours": {"daily": [{"start_time": "09:00", "expiration_time": "17:00", "days_of_week": [1, 2, 3, 4, 5]}]},
            }
        )
        r = self.vouchers.create_voucher(code, body)
        self.assertEqual(r.validity_day_of_week, [1, 2, 3, 4, 5])
        self.assertEqual(r.validity_hours.daily[0].start_time, "09:00")
        self.assertEqual(r.validity_hours.daily[0].expiration_time, "17:00")
        self.assertEqual(r.expiration_date.year, 2099)
        self.assertEqual(r.discount.effect, "APPLY_TO_ORDER")
        got = self.vouchers.get_voucher(code)
        self.assertEqual(got.validity_day_of_week, [1, 2, 3, 4, 5])

    def test_02_create_voucher_duplicate(self):
        body = v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
            {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
        )
        self.refused(lambda: self.vouchers.create_voucher(CODE, body), 409, "duplicate_found")

    def test_03_generate_random_code(self):
        body = v.VouchersCreateRequestBody.from_dict(
            {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 500}}
        )
        r = self.vouchers.generate_random_code(body)
        self.assertRegex(r.code, r"^[0-9a-zA-Z]{8}$")
        self.assertEqual(r.discount.amount_off, 500)

    def test_04_get_voucher(self):
        self.assertEqual(self.vouchers.get_voucher(CODE).code, CODE)
        self.assertEqual(self.vouchers.get_voucher(self.need("id")).code, CODE)

    def test_04b_voucher_assets(self):
        # The models read `assets.qr` and `assets.barcode` ({id, url}); the
        # URLs are under the server's address, hide the code, and need no key.
        assets = self.vouchers.get_voucher(CODE).assets
        for kind, asset in (("qr", assets.qr), ("barcode", assets.barcode)):
            self.assertEqual(asset.url, f"{URL}/v1/assets/{kind}/{asset.id}")
            self.assertNotIn(CODE, asset.url)
            with urllib.request.urlopen(asset.url) as response:
                self.assertEqual(response.headers["Content-Type"], "image/png")
                self.assertEqual(response.read(8), b"\x89PNG\r\n\x1a\n")
        self.refused(lambda: self.vouchers.get_voucher(unique("NOPE")), 404, "not_found")

    def test_05_update_voucher(self):
        # The SDK's update model has no `redemption`, and writes
        # `type: DISCOUNT_VOUCHER` whatever is given.
        body = v.VouchersUpdateRequestBody.from_dict({"metadata": {"lang": "pl"}, "additional_info": "py"})
        r = self.vouchers.update_voucher(CODE, body)
        self.assertEqual(r.metadata, {"lang": "pl"})
        self.assertEqual(r.additional_info, "py")
        self.assertEqual(r.redemption.quantity, 2)
        self.assertEqual(r.discount.percent_off, 25)

    def test_06_list_vouchers(self):
        r = self.vouchers.list_vouchers(limit=100)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "vouchers")
        self.assertIn(CODE, [x.code for x in r.vouchers])
        page = self.vouchers.list_vouchers(limit=1, page=1)
        self.assertEqual(len(page.vouchers), 1)
        self.assertGreaterEqual(page.total, 2)

    def test_06a_list_vouchers_created_at(self):
        # The SDK writes created_at[after]=2200-01-01T00:00:00+00:00 and the
        # unset side as created_at[before]=None.
        future = self.vouchers.list_vouchers(
            created_at=v.ParameterCreatedBeforeAfter.from_dict({"after": "2200-01-01T00:00:00Z"})
        )
        self.assertEqual(future.vouchers, [])

    def test_06b_list_vouchers_by_ids(self):
        # The SDK writes the list as Python's repr: ids=['v_...'].
        r = self.vouchers.list_vouchers(ids=[self.need("id")], limit=100)
        self.assertEqual([x.code for x in r.vouchers], [CODE])

    def test_07_disable_enable_voucher(self):
        self.assertFalse(self.vouchers.disable_voucher(CODE).active)
        self.assertTrue(self.vouchers.enable_voucher(CODE).active)

    def test_08_update_voucher_balance(self):
        body = v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
            {"type": "GIFT_VOUCHER", "gift": {"amount": 10000}}
        )
        g = self.vouchers.create_voucher(GIFT, body)
        self.assertEqual(g.gift.balance, 10000)
        b = self.vouchers.update_voucher_balance(GIFT, v.VouchersBalanceUpdateRequestBody.from_dict({"amount": -2500}))
        self.assertEqual(b.object, "balance")
        self.assertEqual(b.amount, -2500)
        self.assertEqual(b.balance, 7500)
        self.assertEqual(b.type, "gift_voucher")
        self.assertEqual(b.operation_type, "MANUAL")
        self.refused(
            lambda: self.vouchers.update_voucher_balance(
                GIFT, v.VouchersBalanceUpdateRequestBody.from_dict({"amount": 0})
            ),
            400,
            "invalid_amount",
        )
        self.refused(
            lambda: self.vouchers.update_voucher_balance(
                GIFT, v.VouchersBalanceUpdateRequestBody.from_dict({"amount": -7501})
            ),
            400,
            "gift_amount_exceeded",
        )
        self.assertEqual(self.vouchers.get_voucher(GIFT).gift.balance, 7500)

    def test_08b_update_gift_voucher(self):
        # The SDK sends `type: DISCOUNT_VOUCHER` for a gift card too.
        body = v.VouchersUpdateRequestBody.from_dict({"metadata": {"wrapped": True}})
        r = self.vouchers.update_voucher(GIFT, body)
        self.assertEqual(r.type, "GIFT_VOUCHER")
        self.assertEqual(r.metadata, {"wrapped": True})
        self.assertEqual(r.gift.balance, 7500)

    def test_09_list_voucher_transactions(self):
        r = self.vouchers.list_voucher_transactions(GIFT)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "data")
        removal = [t for t in r.data if t.type == "CREDITS_REMOVAL"]
        self.assertEqual(len(removal), 1, r.data)
        self.assertEqual(removal[0].details.balance.balance, 7500)

    def test_10_import_vouchers(self):
        code = unique("PYIMP")
        item = v.VouchersImportCreateItemRequestBody.from_dict(
            {"code": code, "type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 700}}
        )
        started = self.vouchers.import_vouchers([item])
        self.assertTrue(started.async_action_id.startswith("aa_"))
        action = self.async_done(started.async_action_id)
        self.assertEqual(action.status, "DONE", action)
        self.assertEqual(action.object, "async_action")
        self.assertEqual(self.vouchers.get_voucher(code).discount.amount_off, 700)

    def test_11_import_vouchers_using_csv(self):
        code = unique("PYCSV")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vouchers.csv")
            with open(path, "w") as f:
                f.write(f"Code,Voucher Type,Value,Discount Type\n{code},DISCOUNT_VOUCHER,20,PERCENT\n")
            started = self.vouchers.import_vouchers_using_csv(path)
        self.assertTrue(started.async_action_id.startswith("aa_"))
        action = self.async_done(started.async_action_id)
        self.assertEqual(action.status, "DONE", action)
        self.assertEqual(self.vouchers.get_voucher(code).discount.percent_off, 20)

    def test_12_delete_voucher(self):
        code = unique("PYDEL")
        self.vouchers.create_voucher(
            code,
            v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
                {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
            ),
        )
        self.assertIsNone(self.vouchers.delete_voucher(code, force=True))
        self.refused(lambda: self.vouchers.get_voucher(code), 404, "not_found")


NAME = unique("PySpring")
PREFIX = unique("Y")[:10]


class Campaigns(Flow):
    def setUp(self):
        self.campaigns = v.CampaignsApi(self.api)
        self.vouchers = v.VouchersApi(self.api)

    def wait_generated(self, campaign):
        c = None
        for _ in range(400):
            c = self.campaigns.get_campaign(campaign)
            if c.vouchers_generation_status != "IN_PROGRESS":
                return c
            time.sleep(0.05)
        return c

    def test_01_create_campaign(self):
        body = v.CampaignsCreateRequestBody.from_dict(
            {
                "name": NAME,
                "campaign_type": "DISCOUNT_COUPONS",
                "type": "STATIC",
                "vouchers_count": 2,
                "voucher": {
                    "type": "DISCOUNT_VOUCHER",
                    "discount": {"type": "PERCENT", "percent_off": 20},
                    "redemption": {"quantity": 1},
                    "code_config": {"pattern": f"{PREFIX}-####"},
                },
            }
        )
        c = self.campaigns.create_campaign(body)
        self.assertTrue(c.id.startswith("camp_"))
        self.assertEqual(c.name, NAME)
        self.assertEqual(c.object, "campaign")
        self.assertIn(c.vouchers_generation_status, ("IN_PROGRESS", "DONE"))
        self.state["id"] = c.id

    def test_02_get_campaign(self):
        c = self.wait_generated(NAME)
        self.assertEqual(c.vouchers_generation_status, "DONE")
        self.assertEqual(c.vouchers_count, 2)
        self.assertEqual(c.voucher.code_config.pattern, f"{PREFIX}-####")
        self.assertEqual(self.campaigns.get_campaign(self.need("id")).name, NAME)
        codes = self.vouchers.list_vouchers(campaign=NAME, limit=100)
        self.assertEqual(codes.total, 2)
        self.assertEqual(self.vouchers.list_vouchers(campaign_id=self.state["id"], limit=100).total, 2)
        for x in codes.vouchers:
            self.assertRegex(x.code, rf"^{PREFIX}-[0-9a-zA-Z]{{4}}$")

    def test_03_update_campaign(self):
        c = self.campaigns.update_campaign(
            self.need("id"), v.CampaignsUpdateRequestBody.from_dict({"description": "py spring"})
        )
        self.assertEqual(c.description, "py spring")

    def test_04_list_campaigns(self):
        r = self.campaigns.list_campaigns(limit=100)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "campaigns")
        self.assertIn(NAME, [c.name for c in r.campaigns])

    def test_05_add_vouchers_to_campaign(self):
        one = self.campaigns.add_vouchers_to_campaign(self.need("id"), vouchers_count=1)
        self.assertTrue(one.code.startswith(f"{PREFIX}-"), one)
        more = self.campaigns.add_vouchers_to_campaign(self.need("id"), vouchers_count=2)
        self.assertTrue(more.async_action_id.startswith("aa_"), more)
        self.assertEqual(self.async_done(more.async_action_id).status, "DONE")
        self.assertEqual(self.vouchers.list_vouchers(campaign=NAME, limit=100).total, 5)

    def test_06_add_voucher_with_specific_code_to_campaign(self):
        code = unique("PYOWN")
        r = self.campaigns.add_voucher_with_specific_code_to_campaign(
            self.need("id"), code, v.CampaignsVouchersCreateRequestBody.from_dict({})
        )
        self.assertEqual(r.code, code)
        self.assertEqual(r.campaign, NAME)

    def test_07_import_vouchers_to_campaign(self):
        code = unique("PYCIMP")
        started = self.campaigns.import_vouchers_to_campaign(
            self.need("id"), [v.CampaignsImportVoucherItem.from_dict({"code": code})]
        )
        self.assertEqual(self.async_done(started.async_action_id).status, "DONE")
        self.assertEqual(self.vouchers.get_voucher(code).campaign, NAME)

    def test_08_import_vouchers_to_campaign_using_csv(self):
        code = unique("PYCCSV")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "codes.csv")
            with open(path, "w") as f:
                f.write(f"Code\n{code}\n")
            started = self.campaigns.import_vouchers_to_campaign_using_csv(self.need("id"), path)
        self.assertEqual(self.async_done(started.async_action_id).status, "DONE")
        self.assertEqual(self.vouchers.get_voucher(code).campaign, NAME)

    def test_09_disable_enable_campaign(self):
        self.campaigns.disable_campaign(self.need("id"))
        self.assertFalse(self.campaigns.get_campaign(NAME).active)
        self.campaigns.enable_campaign(self.need("id"))
        self.assertTrue(self.campaigns.get_campaign(NAME).active)

    def test_10_get_campaign_summary(self):
        codes = self.vouchers.list_vouchers(campaign=NAME, limit=1)
        code = codes.vouchers[0].code
        redemptions = v.RedemptionsApi(self.api)
        body = v.RedemptionsRedeemRequestBody.from_dict(
            {"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 5000}}
        )
        redeemed = redemptions.redeem_stacked_discounts(body)
        s = self.campaigns.get_campaign_summary(self.need("id"))
        self.assertEqual(s.object, "campaign_summary")
        self.assertEqual(s.redemptions_succeeded, 1)
        self.assertEqual(s.discounted_amount, 1000)
        self.assertGreaterEqual(s.vouchers_created, 5)
        self.state["parent"] = redeemed.parent_redemption.id

    def test_10b_get_campaign_summary_after_rollback(self):
        # Successes ever made stay counted; rollbacks have their own fields
        # and do not reduce discounted_amount.
        v.RedemptionsApi(self.api).rollback_stacked_redemptions(self.need("parent"))
        s = self.campaigns.get_campaign_summary(self.need("id"))
        self.assertEqual(s.redemptions_succeeded, 1)
        self.assertEqual(s.rollbacks_succeeded, 1)
        self.assertEqual(s.discounted_amount, 1000)
        self.assertEqual(s.rolledback_discounted_amount, 1000)

    def test_11_delete_campaign(self):
        started = self.campaigns.delete_campaign(self.need("id"), force=True)
        self.assertTrue(started.async_action_id.startswith("aa_"))
        self.assertEqual(self.async_done(started.async_action_id).status, "DONE")
        self.refused(lambda: self.campaigns.get_campaign(NAME), 404, "not_found")

"""The client side with ClientSideApi (publishable keys, origin), exports
with ExportsApi (download included), async actions."""

import urllib.parse

import voucherify as v

from support import ORIGIN, Flow, client_side_client, unique

CODE = unique("PYC10")
SOURCE = unique("pyvisitor").lower()


class ClientSide(Flow):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client = client_side_client()
        cls.setup_error = None
        try:
            v.VouchersApi(cls.api).create_voucher(
                CODE,
                v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
                    {"type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}
                ),
            )
        except Exception as e:
            cls.setup_error = e

    def setUp(self):
        if self.setup_error is not None:
            self.fail(f"setup failed: {self.setup_error}")
        self.side = v.ClientSideApi(self.client)

    def test_01_validate_stacked_discounts_client_side(self):
        body = v.ClientValidationsValidateRequestBody.from_dict(
            {"redeemables": [{"object": "voucher", "id": CODE}], "order": {"amount": 4000}, "customer": {"source_id": SOURCE}}
        )
        r = self.side.validate_stacked_discounts_client_side(ORIGIN, body)
        self.assertTrue(r.valid, r)
        self.assertEqual(r.order.total_discount_amount, 400)

    def test_02_redeem_stacked_discounts_client_side(self):
        body = v.ClientRedemptionsRedeemRequestBody.from_dict(
            {"redeemables": [{"object": "voucher", "id": CODE}], "order": {"amount": 4000}, "customer": {"source_id": SOURCE}}
        )
        r = self.side.redeem_stacked_discounts_client_side(ORIGIN, body)
        self.assertEqual(len(r.redemptions), 1)
        self.assertEqual(r.redemptions[0].result, "SUCCESS")
        self.assertEqual(r.order.total_amount, 3600)

    def test_03_check_eligibility_client_side(self):
        body = v.ClientQualificationsCheckEligibilityRequestBody.from_dict(
            {"customer": {"source_id": SOURCE}, "order": {"amount": 4000}, "scenario": "ALL"}
        )
        r = self.side.check_eligibility_client_side(body, _headers={"origin": ORIGIN})
        self.assertEqual(r.redeemables.object, "list")

    def test_04_wrong_origin(self):
        body = v.ClientValidationsValidateRequestBody.from_dict({"redeemables": [{"object": "voucher", "id": CODE}]})
        self.refused(
            lambda: self.side.validate_stacked_discounts_client_side("http://elsewhere.test", body), 401, "unauthorized"
        )


class Exports(Flow):
    def setUp(self):
        self.exports = v.ExportsApi(self.api)

    def wait(self, export_id):
        import time

        e = None
        for _ in range(400):
            e = self.exports.get_export(export_id)
            if e.status in ("DONE", "ERROR", "FAILED"):
                return e
            time.sleep(0.05)
        return e

    def export_and_download(self, exported_object, fields):
        created = self.exports.create_export(
            v.ExportsCreateRequestBody.from_dict({"exported_object": exported_object, "parameters": {"fields": fields}})
        )
        self.assertTrue(created.id.startswith("exp_"))
        self.assertEqual(created.exported_object, exported_object)
        done = self.wait(created.id)
        self.assertEqual(done.status, "DONE", done)
        token = urllib.parse.parse_qs(urllib.parse.urlparse(done.result.url).query).get("token", [None])[0]
        return self.exports.download_export(created.id, token=token)

    def test_01_vouchers_export_and_download(self):
        code = unique("PYEXP")
        v.VouchersApi(self.api).create_voucher(
            code,
            v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
                {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
            ),
        )
        csv = self.export_and_download("voucher", ["code", "voucher_type"])
        self.assertIn(code, csv)

    def test_02_redemptions_export_and_download(self):
        code = unique("PYEXR")
        v.VouchersApi(self.api).create_voucher(
            code,
            v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
                {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}}
            ),
        )
        redeemed = v.RedemptionsApi(self.api).redeem_stacked_discounts(
            v.RedemptionsRedeemRequestBody.from_dict(
                {"redeemables": [{"object": "voucher", "id": code}], "order": {"amount": 1000}}
            )
        )
        csv = self.export_and_download("redemption", ["id", "voucher_code", "result"])
        self.assertIn(redeemed.redemptions[0].id, csv)
        self.assertIn(code, csv)


"""Customers (CustomersApi), publications (PublicationsApi) and validation
rules (ValidationRulesApi)."""

import time
import unittest

import voucherify as v

from support import Flow, unique


class Customers(Flow):
    SOURCE = unique("pyshopper").lower()

    def setUp(self):
        self.customers = v.CustomersApi(self.api)

    def test_01_create_customer(self):
        body = v.CustomersCreateRequestBody.from_dict(
            {"source_id": self.SOURCE, "name": "Grace", "email": "grace@example.com", "address": {"city": "Arlington"}}
        )
        c = self.customers.create_customer(body)
        self.assertTrue(c.id.startswith("cust_"))
        self.assertEqual(c.object, "customer")
        self.assertEqual(c.source_id, self.SOURCE)
        self.assertEqual(c.address.city, "Arlington")
        self.state["id"] = c.id
        again = self.customers.create_customer(
            v.CustomersCreateRequestBody.from_dict({"source_id": self.SOURCE, "name": "Grace H."})
        )
        self.assertEqual(again.id, c.id)
        self.assertEqual(again.name, "Grace H.")

    def test_02_get_customer(self):
        self.assertEqual(self.customers.get_customer(self.need("id")).source_id, self.SOURCE)
        self.assertEqual(self.customers.get_customer(self.SOURCE).id, self.state["id"])

    def test_03_update_customer(self):
        c = self.customers.update_customer(
            self.SOURCE, v.CustomersUpdateRequestBody.from_dict({"email": "grace@navy.test", "metadata": {"rank": 1}})
        )
        self.assertEqual(c.email, "grace@navy.test")
        self.assertEqual(c.metadata, {"rank": 1})
        self.assertEqual(c.name, "Grace H.")

    def test_04_list_customers(self):
        r = self.customers.list_customers(limit=100)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "customers")
        self.assertIn(self.need("id"), [c.id for c in r.customers])

    def test_05_delete_customer(self):
        self.assertIsNone(self.customers.delete_customer(self.need("id")))
        self.refused(lambda: self.customers.get_customer(self.state["id"]), 404, "not_found")


class Publications(Flow):
    CAMPAIGN = unique("PyWelcome")
    PREFIX = unique("Q")[:10]
    SOURCE = unique("pyreader").lower()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_error = None
        try:
            campaigns = v.CampaignsApi(cls.api)
            campaigns.create_campaign(
                v.CampaignsCreateRequestBody.from_dict(
                    {
                        "name": cls.CAMPAIGN,
                        "campaign_type": "DISCOUNT_COUPONS",
                        "type": "STATIC",
                        "vouchers_count": 3,
                        "voucher": {
                            "type": "DISCOUNT_VOUCHER",
                            "discount": {"type": "PERCENT", "percent_off": 5},
                            "code_config": {"pattern": f"{cls.PREFIX}-####"},
                        },
                    }
                )
            )
            for _ in range(400):
                if campaigns.get_campaign(cls.CAMPAIGN).vouchers_generation_status != "IN_PROGRESS":
                    break
                time.sleep(0.05)
        except Exception as e:
            cls.setup_error = e

    def setUp(self):
        if self.setup_error is not None:
            self.fail(f"setup failed: {self.setup_error}")
        self.publications = v.PublicationsApi(self.api)

    def test_01_create_publication(self):
        body = v.PublicationsCreateRequestBody.from_dict(
            {"campaign": {"name": self.CAMPAIGN}, "customer": {"source_id": self.SOURCE}}
        )
        p = self.publications.create_publication(publications_create_request_body=body)
        self.assertTrue(p.id.startswith("pub_"))
        self.assertEqual(p.object, "publication")
        self.assertEqual(p.result, "SUCCESS")
        self.assertEqual(p.channel, "API")
        self.assertTrue(p.voucher.code.startswith(f"{self.PREFIX}-"), p.voucher)
        self.state["id"] = p.id
        self.state["code"] = p.voucher.code

    def test_02_create_publication_join_once(self):
        body = v.PublicationsCreateRequestBody.from_dict(
            {"campaign": {"name": self.CAMPAIGN}, "customer": {"source_id": self.SOURCE}}
        )
        p = self.publications.create_publication(join_once=True, publications_create_request_body=body)
        self.assertEqual(p.voucher.code, self.need("code"))

    def test_03_create_publication1(self):
        p = self.publications.create_publication1(
            customer=v.Customer.from_dict({"source_id": unique("pyother").lower()}),
            campaign=v.CreatePublicationCampaign.from_dict({"name": self.CAMPAIGN}),
        )
        self.assertEqual(p.object, "publication")
        self.assertTrue(p.voucher.code.startswith(f"{self.PREFIX}-"), p.voucher)
        self.assertNotEqual(p.voucher.code, self.state.get("code"))

    def test_04_list_publications(self):
        r = self.publications.list_publications(limit=100)
        self.assertEqual(r.object, "list")
        self.assertEqual(r.data_ref, "publications")
        self.assertIn(self.need("id"), [p.id for p in r.publications])


class ValidationRules(Flow):
    NAME = unique("py-big-orders")
    CODE = unique("PYRULED")

    def setUp(self):
        self.rules = v.ValidationRulesApi(self.api)

    def test_01_create_validation_rules(self):
        body = v.ValidationRulesCreateRequestBody.from_dict(
            {
                "name": self.NAME,
                "type": "basic",
                "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [10000]}}, "logic": "1"},
                "error": {"message": "Spend more than 100.00"},
            }
        )
        r = self.rules.create_validation_rules(body)
        self.assertTrue(r.id.startswith("val_"))
        self.assertEqual(r.name, self.NAME)
        self.state["id"] = r.id

    def test_02_get_validation_rule(self):
        self.assertEqual(self.rules.get_validation_rule(self.need("id")).name, self.NAME)

    def test_03_update_validation_rule(self):
        r = self.rules.update_validation_rule(
            self.need("id"), v.ValidationRulesUpdateRequestBody.from_dict({"error": {"message": "Big orders only"}})
        )
        self.assertEqual(r.error.message, "Big orders only")
        self.assertEqual(r.name, self.NAME)

    def test_04_list_validation_rules(self):
        r = self.rules.list_validation_rules(limit=100)
        self.assertEqual(r.object, "list")
        self.assertIn(self.need("id"), [x.id for x in r.data])

    def test_05_create_validation_rule_assignment(self):
        voucher = v.VouchersApi(self.api).create_voucher(
            self.CODE,
            v.VouchersCreateWithSpecificCodeRequestBody.from_dict(
                {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1500}}
            ),
        )
        a = self.rules.create_validation_rule_assignment(
            self.need("id"),
            validation_rules_assignments_create_request_body=v.ValidationRulesAssignmentsCreateRequestBody.from_dict(
                {"related_object_type": "voucher", "related_object_id": voucher.id}
            ),
        )
        self.assertTrue(a.id.startswith("asgm_"))
        self.assertEqual(a.object, "validation_rules_assignment")
        self.assertEqual(a.related_object_id, voucher.id)
        self.state["assignment"] = a.id
        validations = v.ValidationsApi(self.api)
        small = validations.validate_stacked_discounts(
            v.ValidationsValidateRequestBody.from_dict(
                {"redeemables": [{"object": "voucher", "id": self.CODE}], "order": {"amount": 5000}}
            )
        )
        self.assertFalse(small.valid)
        self.assertEqual(small.inapplicable_redeemables[0].result.error.key, "order_rules_violated")

    def test_05b_assignment_to_a_campaign(self):
        # A campaign with an assigned rule: the campaign and its vouchers
        # still parse, with the assignment listed.
        campaigns = v.CampaignsApi(self.api)
        name = unique("PyRuled")
        c = campaigns.create_campaign(
            v.CampaignsCreateRequestBody.from_dict(
                {
                    "name": name,
                    "campaign_type": "DISCOUNT_COUPONS",
                    "type": "STATIC",
                    "vouchers_count": 1,
                    "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 100}},
                }
            )
        )
        a = self.rules.create_validation_rule_assignment(
            self.need("id"),
            validation_rules_assignments_create_request_body=v.ValidationRulesAssignmentsCreateRequestBody.from_dict(
                {"related_object_type": "campaign", "related_object_id": c.id}
            ),
        )
        self.assertEqual(a.related_object_type, "campaign")
        self.state["campaign"] = c.id
        self.state["campaign_assignment"] = a.id
        got = campaigns.get_campaign(c.id)
        self.assertEqual(got.id, c.id)

    def test_05c_campaign_shows_its_assignment(self):
        got = v.CampaignsApi(self.api).get_campaign(self.need("campaign"))
        self.assertIsNotNone(got.validation_rules_assignments)
        self.assertIn(self.need("campaign_assignment"), [x.id for x in got.validation_rules_assignments.data or []])

    def test_05d_voucher_shows_its_assignment(self):
        got = v.VouchersApi(self.api).get_voucher(self.CODE)
        self.assertIsNotNone(got.validation_rules_assignments)
        self.assertIn(self.need("assignment"), [x.id for x in got.validation_rules_assignments.data or []])

    def test_06_list_validation_rule_assignments(self):
        r = self.rules.list_validation_rule_assignments(self.need("id"))
        self.assertEqual(r.object, "list")
        self.assertIn(self.need("assignment"), [a.id for a in r.data])

    def test_07_delete_validation_rule_assignment(self):
        self.assertIsNone(self.rules.delete_validation_rule_assignment(self.need("id"), self.need("assignment")))
        r = self.rules.list_validation_rule_assignments(self.state["id"])
        self.assertNotIn(self.state["assignment"], [a.id for a in r.data])

    def test_08_delete_validation_rules(self):
        self.assertIsNone(self.rules.delete_validation_rules(self.need("id")))
        self.refused(lambda: self.rules.get_validation_rule(self.state["id"]), 404, "not_found")

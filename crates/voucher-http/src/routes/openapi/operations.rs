//! Every operation of the API, in the order of `routes/`. A route added to
//! the router without its operation here fails `tests/it/openapi.rs`.

use serde_json::{json, Value};

use super::{op, Op};

/// A `/v1` operation: a server key; POST, PUT and DELETE take
/// `Idempotency-Key`; a path with parameters may be 404.
fn v1(method: &'static str, path: &'static str, id: &str, tag: &str, summary: &str) -> Op {
    let mut o = op(method, path, id, tag, summary).server();
    if matches!(method, "post" | "put" | "delete") {
        o = o.idempotent();
    }
    if path.contains('{') {
        o = o.error(404, "NotFound");
    }
    o
}

/// A `/client/v1` operation: a client key from an allowed origin, rate
/// limited; a POST takes `Idempotency-Key`.
fn client(method: &'static str, path: &'static str, id: &str, summary: &str) -> Op {
    let o = op(method, path, id, "client", summary).client();
    if method == "post" {
        o.idempotent()
    } else {
        o
    }
}

/// The CORS preflight of a client path.
fn preflight(path: &'static str, id: &str) -> Op {
    op("options", path, id, "client", "CORS preflight")
        .public()
        .describe(
            "Answered for an `Origin` some client key allows, with `Access-Control-Allow-Methods`, \
             `-Headers` and `-Max-Age`; 401 for any other origin; 204 without CORS headers \
             when there is no `Origin`. Not rate limited.",
        )
        .header_param("Origin", "The page's origin.")
        .header_param(
            "Access-Control-Request-Method",
            "The method the page means to send.",
        )
        .empty(204, "Allowed.")
        .error(401, "Unauthorized")
        .error(500, "InternalError")
        .error(503, "ServiceUnavailable")
}

/// A voucher image at `path` (`.../{token}`), linked from `voucher.assets`.
fn asset(path: &'static str, id: &str, summary: &str) -> Op {
    op("get", path, id, "assets", summary)
        .public()
        .describe(
            "No key: the token (a voucher's `assets.qr.id` or `assets.barcode.id`) is signed, \
             names the project and the voucher, and does not show the code. A forged token, \
             one of the other image kind, or one of a deleted voucher is 404. Cached for a day \
             as `immutable`.",
        )
        .query(
            "format",
            json!({"type": "string", "enum": ["png", "svg"], "default": "png"}),
            "The image format (case ignored).",
        )
        .answer(
            200,
            "The image.",
            json!({
                "image/png": {"schema": {"type": "string", "contentMediaType": "image/png"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            }),
        )
        .error(400, "BadRequest")
        .error(404, "NotFound")
        .error(422, "ImageUnsupported")
        .error(500, "InternalError")
        .error(503, "ServiceUnavailable")
}

fn csv_or_multipart() -> Value {
    json!({
        "text/csv": {"schema": {"type": "string"}},
        "multipart/form-data": {"schema": {"type": "object", "properties": {
            "file": {"type": "string", "contentMediaType": "text/csv"}}}},
    })
}

/// GET, PUT and DELETE of one voucher at `path` (`{code}`, or a literal
/// code that is also a bulk endpoint's name).
fn voucher_item(path: &'static str, suffix: &str) -> Vec<Op> {
    vec![
        v1(
            "get",
            path,
            &format!("getVoucher{suffix}"),
            "vouchers",
            "Get a voucher",
        )
        .ok(200, "The voucher.", "Voucher"),
        v1(
            "put",
            path,
            &format!("updateVoucher{suffix}"),
            "vouchers",
            "Update a voucher",
        )
        .describe("Changes the fields given; the code, type and campaign stay.")
        .body("VoucherInput")
        .ok(200, "The voucher after the change.", "Voucher"),
        v1(
            "delete",
            path,
            &format!("deleteVoucher{suffix}"),
            "vouchers",
            "Delete a voucher",
        )
        .query(
            "force",
            json!({"type": "boolean"}),
            "Ignored: a voucher is always deleted for good.",
        )
        .empty(204, "Deleted."),
    ]
    .into_iter()
    .map(|o| o.error(404, "NotFound"))
    .collect()
}

/// Every operation.
pub(super) fn operations() -> Vec<Op> {
    let mut ops = vec![
        // --- Service ----------------------------------------------------
        op("get", "/health", "health", "service", "Is the server up?")
            .public()
            .ok(200, "Up.", "Health"),
        op("get", "/metrics", "metrics", "service", "Prometheus metrics")
            .public()
            .describe("Requests by route template, method and status; latency histograms; redemptions by result and failure code. No code or id appears in a label.")
            .answer(200, "OpenMetrics text.", json!({
                "application/openmetrics-text; version=1.0.0; charset=utf-8": {"schema": {"type": "string"}},
            })),
        op("get", "/openapi.json", "openapi", "service", "This document")
            .public()
            .answer(200, "The OpenAPI 3.1 document.", json!({
                "application/json": {"schema": {"type": "object"}},
            })),
        op("get", "/docs", "docs", "service", "This document as an HTML page")
            .public()
            .answer(200, "A self-contained page.", json!({
                "text/html": {"schema": {"type": "string"}},
            })),
        // --- Vouchers ---------------------------------------------------
        v1("post", "/v1/vouchers", "createVoucher", "vouchers", "Create a voucher with a generated code")
            .trailing_slash()
            .describe("The code comes from `code` if given, else from `code_config` (default: 8 alphanumeric characters). With `campaign` or `campaign_id`, the voucher joins that campaign.")
            .body("VoucherInput")
            .ok(200, "The voucher.", "Voucher"),
        v1("get", "/v1/vouchers", "listVouchers", "vouchers", "List vouchers")
            .trailing_slash()
            .list_params()
            .query("campaign", json!({"type": "string"}), "A campaign's name or id.")
            .query("campaign_id", json!({"type": "string"}), "A campaign's id.")
            .query("category", json!({"type": "string"}), "A category.")
            .query("customer", json!({"type": "string"}), "The holder's id or source id.")
            .query("code", json!({"type": "string"}), "One code.")
            .query("ids", json!({"type": "array", "items": {"type": "string"}}), "Voucher ids.")
            .query("filters", json!({"type": "object"}), "`filters[active][conditions][$is]=true` and the like.")
            .ok(200, "A page of vouchers.", "VoucherList"),
        v1("post", "/v1/vouchers/import", "importVouchers", "vouchers", "Import vouchers (JSON)")
            .describe("Creates each voucher of the array in the background; codes that fail are listed in the async action's result.")
            .body("VoucherImport")
            .accepted("Accepted."),
        v1("post", "/v1/vouchers/importCSV", "importVouchersCsv", "vouchers", "Import vouchers (CSV)")
            .describe("A CSV file (`Code`, `Category`, `Active`, `Discount Type`, `Value`, `Gift Amount`, `Redemption Limit`, `Start Date`, `Expiration Date`, ...), as `text/csv` or the first file of a `multipart/form-data` body.")
            .body_content(csv_or_multipart(), true)
            .accepted("Accepted."),
        v1("post", "/v1/vouchers/{code}", "createVoucherWithCode", "vouchers", "Create a voucher with this code")
            .body("VoucherInput")
            .ok(200, "The voucher.", "Voucher"),
        v1("post", "/v1/vouchers/{code}/enable", "enableVoucher", "vouchers", "Enable a voucher")
            .ok(200, "The voucher.", "Voucher"),
        v1("post", "/v1/vouchers/{code}/disable", "disableVoucher", "vouchers", "Disable a voucher")
            .ok(200, "The voucher.", "Voucher"),
        v1("post", "/v1/vouchers/{code}/balance", "adjustBalance", "vouchers", "Add or remove gift credits")
            .body("BalanceInput")
            .ok(200, "The new balance.", "Balance"),
        v1("get", "/v1/vouchers/{code}/transactions", "listTransactions", "vouchers", "A gift card's ledger")
            .list_params()
            .ok(200, "A page of ledger entries.", "TransactionList"),
        // --- Campaigns --------------------------------------------------
        v1("post", "/v1/campaigns", "createCampaign", "campaigns", "Create a campaign")
            .trailing_slash()
            .body("CampaignInput")
            .ok(200, "The campaign.", "Campaign"),
        v1("get", "/v1/campaigns", "listCampaigns", "campaigns", "List campaigns")
            .trailing_slash()
            .list_params()
            .ok(200, "A page of campaigns.", "CampaignList"),
        v1("get", "/v1/campaigns/{id}", "getCampaign", "campaigns", "Get a campaign")
            .ok(200, "The campaign.", "Campaign"),
        v1("put", "/v1/campaigns/{id}", "updateCampaign", "campaigns", "Update a campaign")
            .body("CampaignInput")
            .ok(200, "The campaign after the change.", "Campaign"),
        v1("delete", "/v1/campaigns/{id}", "deleteCampaign", "campaigns", "Delete a campaign and its vouchers")
            .query("force", json!({"type": "boolean"}), "Ignored: a campaign is always deleted for good.")
            .accepted("Deleted; the async action reports how many vouchers went."),
        v1("post", "/v1/campaigns/{id}/vouchers", "addVouchers", "campaigns", "Add vouchers to a campaign")
            .trailing_slash()
            .describe("One voucher (the body may set its fields) is created at once; `vouchers_count` above 1 generates them in the background.")
            .query("vouchers_count", json!({"type": "integer", "minimum": 1}), "How many.")
            .body("VoucherInput")
            .ok(200, "The voucher (one asked).", "Voucher")
            .accepted("Accepted (several asked)."),
        v1("post", "/v1/campaigns/{id}/vouchers/{code}", "addVoucherWithCode", "campaigns", "Add a voucher with this code to a campaign")
            .body("VoucherInput")
            .ok(200, "The voucher.", "Voucher"),
        v1("post", "/v1/campaigns/{id}/import", "importCampaignVouchers", "campaigns", "Import vouchers into a campaign (JSON)")
            .body("VoucherImport")
            .accepted("Accepted."),
        v1("post", "/v1/campaigns/{id}/importCSV", "importCampaignVouchersCsv", "campaigns", "Import vouchers into a campaign (CSV)")
            .body_content(csv_or_multipart(), true)
            .accepted("Accepted."),
        v1("post", "/v1/campaigns/{id}/enable", "enableCampaign", "campaigns", "Enable a campaign")
            .ok(200, "Done.", "EmptyObject"),
        v1("post", "/v1/campaigns/{id}/disable", "disableCampaign", "campaigns", "Disable a campaign")
            .ok(200, "Done.", "EmptyObject"),
        v1("get", "/v1/campaigns/{id}/summary", "campaignSummary", "campaigns", "A campaign's counts and amounts")
            .ok(200, "The summary.", "CampaignSummary"),
        // --- Async actions and exports ------------------------------------
        v1("get", "/v1/async-actions/{id}", "getAsyncAction", "async actions", "Get an async action")
            .trailing_slash()
            .ok(200, "The job and, when done, its result.", "AsyncAction"),
        v1("post", "/v1/exports", "createExport", "exports", "Export vouchers or redemptions")
            .trailing_slash()
            .body("ExportInput")
            .ok(200, "The export, SCHEDULED.", "Export"),
        v1("get", "/v1/exports/{id}", "getExport", "exports", "Get an export")
            .query("token", json!({"type": "string"}), "The download token of `result.url`: answers with the file itself.")
            .ok(200, "The export, or with `token` the CSV as `text/plain`.", "Export")
            .answer_content(200, json!({"text/plain": {"schema": {"type": "string"}}})),
        v1("get", "/v1/exports/{id}/download", "downloadExport", "exports", "Download an export's CSV")
            .query("token", json!({"type": "string"}), "The download token (default: the export's).")
            .answer(200, "The CSV file.", json!({"text/csv": {"schema": {"type": "string"}}})),
        // --- Validations --------------------------------------------------
        v1("post", "/v1/vouchers/{code}/validate", "validateVoucher", "validations", "Validate one code (legacy)")
            .describe("A code that does not apply is still 200, with `valid: false`, `reason` and `error`.")
            .body("CheckoutRequest")
            .ok(200, "Whether the code applies, and what it does to the order.", "LegacyValidation"),
        v1("post", "/v1/validations", "validateStack", "validations", "Validate several codes together")
            .trailing_slash()
            .body("CheckoutRequest")
            .ok(200, "Whether they apply, each code's result, and the order.", "StackedValidation"),
        // --- Redemptions --------------------------------------------------
        v1("post", "/v1/vouchers/{code}/redemption", "redeemVoucher", "redemptions", "Redeem one code (legacy)")
            .describe("Exactly once: the use is counted in the same transaction as the decision. A refusal is 400 with the reason's key; it is also logged as a failed redemption (`resource_id`).")
            .query("tracking_id", json!({"type": "string"}), "The customer's tracking id.")
            .body("CheckoutRequest")
            .ok(200, "The redemption.", "Redemption"),
        v1("get", "/v1/vouchers/{code}/redemption", "voucherRedemptions", "redemptions", "A voucher's redemptions")
            .ok(200, "Its redemptions and rollbacks.", "VoucherRedemptionList"),
        v1("post", "/v1/redemptions", "redeemStack", "redemptions", "Redeem several codes together")
            .trailing_slash()
            .describe("Exactly once: the decision and its uses in one transaction. A refusal is 400 with the refusal's key, recorded as a failed redemption.")
            .body("CheckoutRequest")
            .ok(200, "The redemptions under their parent.", "StackedRedemption"),
        op("get", "/v1/redemptions", "listRedemptions", "redemptions", "List redemptions")
            .server()
            .trailing_slash()
            .param_ref("limit")
            .param_ref("page")
            .param_ref("created_at")
            .param_ref("updated_at")
            .param_ref("starting_after")
            .param_ref("starting_after_id")
            .query("order", json!({"type": "string"}), "A sort key (`created_at`, `id`, `voucher_code`, `tracking_id`, `customer_id`, `-` for descending), or an order's id to filter by.")
            .query("result", json!({"type": "string", "enum": ["SUCCESS", "FAILURE"]}), "Only successes or failures.")
            .query("campaign", json!({"type": "string"}), "A campaign's name or id.")
            .query("customer", json!({"type": "string"}), "A customer's id or source id.")
            .query("voucher_code", json!({"type": "string"}), "A code.")
            .query("failure_code", json!({"type": "string"}), "A refusal key.")
            .query("filters", json!({"type": "object"}), "`filters[<field>][conditions][$is|$in]`.")
            .error(400, "BadRequest")
            .ok(200, "A page of redemptions and rollbacks.", "RedemptionList"),
        v1("get", "/v1/redemptions/{id}", "getRedemption", "redemptions", "Get a redemption or rollback")
            .ok(200, "The redemption (`r_...`) or rollback (`rr_...`).", "RedemptionOrRollback"),
        v1("post", "/v1/redemptions/{id}/rollback", "rollbackRedemption", "redemptions", "Roll back one redemption")
            .query("reason", json!({"type": "string"}), "Why.")
            .query("tracking_id", json!({"type": "string"}), "The customer's tracking id.")
            .body("RollbackInput")
            .ok(200, "The rollback.", "RedemptionRollback"),
        v1("post", "/v1/redemptions/{id}/rollbacks", "rollbackStack", "redemptions", "Roll back a stacked redemption")
            .query("reason", json!({"type": "string"}), "Why.")
            .query("tracking_id", json!({"type": "string"}), "The customer's tracking id.")
            .body("RollbackInput")
            .ok(200, "The rollbacks.", "StackedRollback"),
        // --- Qualifications -----------------------------------------------
        v1("post", "/v1/qualifications", "qualify", "qualifications", "Which codes apply to this cart")
            .trailing_slash()
            .body("QualificationRequest")
            .ok(200, "The applicable codes.", "Qualification"),
        // --- Customers ----------------------------------------------------
        v1("get", "/v1/customers", "listCustomers", "customers", "List customers")
            .trailing_slash()
            .list_params()
            .ok(200, "A page of customers.", "CustomerList"),
        v1("post", "/v1/customers", "createCustomer", "customers", "Create or update a customer")
            .trailing_slash()
            .describe("A customer whose `source_id` exists is updated.")
            .body("CustomerInput")
            .ok(200, "The customer.", "Customer"),
        v1("get", "/v1/customers/{id}", "getCustomer", "customers", "Get a customer")
            .ok(200, "The customer.", "Customer"),
        v1("put", "/v1/customers/{id}", "updateCustomer", "customers", "Update a customer")
            .body("CustomerInput")
            .ok(200, "The customer after the change.", "Customer"),
        v1("delete", "/v1/customers/{id}", "deleteCustomer", "customers", "Delete a customer")
            .empty(204, "Deleted."),
        // --- Publications -------------------------------------------------
        v1("get", "/v1/publications", "listPublications", "publications", "List publications")
            .trailing_slash()
            .list_params()
            .query("campaign", json!({"type": "string"}), "A campaign's name.")
            .query("customer", json!({"type": "string"}), "A customer's id or source id.")
            .query("voucher", json!({"type": "string"}), "A code.")
            .query("result", json!({"type": "string", "enum": ["SUCCESS"]}), "Publications always succeed.")
            .query("voucher_type", json!({"type": "string", "enum": ["discount", "gift"]}), "The voucher's type.")
            .query("is_referral_code", json!({"type": "boolean"}), "Always false here.")
            .query("source_id", json!({"type": "string"}), "The publication's source id.")
            .query("filters", json!({"type": "object"}), "The same fields as `filters[<field>][conditions][$is]`.")
            .ok(200, "A page of publications.", "PublicationList"),
        v1("post", "/v1/publications", "createPublication", "publications", "Give a code to a customer")
            .trailing_slash()
            .describe("With `source_id`, the same request again answers the first publication; another request with that `source_id` is 409 `duplicate_source_id`.")
            .query("join_once", json!({"type": "boolean"}), "Give this customer at most one code of the campaign.")
            .body("PublicationInput")
            .ok(200, "The publication.", "Publication"),
        v1("get", "/v1/publications/create", "createPublicationFromQuery", "publications", "Give a code to a customer (query string)")
            .describe("The same as `POST /v1/publications`, with the body in the query: `voucher=`, `campaign[name]=`, `customer[source_id]=`, `source_id=`, `join_once=`, `metadata[k]=`.")
            .query("voucher", json!({"type": "string"}), "A code.")
            .query("campaign", json!({"type": "object"}), "`campaign=<name>` or `campaign[name]=`.")
            .query("customer", json!({"type": "object"}), "`customer=<source id>` or `customer[source_id]=` and the other fields.")
            .query("source_id", json!({"type": "string"}), "The publication's source id.")
            .query("join_once", json!({"type": "boolean"}), "At most one code of the campaign.")
            .query("metadata", json!({"type": "object"}), "`metadata[k]=v`.")
            .error(400, "BadRequest")
            .ok(200, "The publication.", "Publication"),
        // --- Validation rules ---------------------------------------------
        v1("get", "/v1/validation-rules", "listValidationRules", "validation rules", "List validation rules")
            .trailing_slash()
            .list_params()
            .query("start_date", json!({"type": "string", "format": "date-time"}), "Created at or after.")
            .query("end_date", json!({"type": "string", "format": "date-time"}), "Created at or before.")
            .ok(200, "A page of rules.", "ValidationRuleList"),
        v1("post", "/v1/validation-rules", "createValidationRule", "validation rules", "Create a validation rule")
            .trailing_slash()
            .body("ValidationRuleInput")
            .ok(200, "The rule.", "ValidationRule"),
        v1("get", "/v1/validation-rules/{id}", "getValidationRule", "validation rules", "Get a validation rule")
            .ok(200, "The rule.", "ValidationRule"),
        v1("put", "/v1/validation-rules/{id}", "updateValidationRule", "validation rules", "Update a validation rule")
            .body("ValidationRuleInput")
            .ok(200, "The rule after the change.", "ValidationRule"),
        v1("delete", "/v1/validation-rules/{id}", "deleteValidationRule", "validation rules", "Delete a validation rule and its assignments")
            .empty(204, "Deleted."),
        v1("get", "/v1/validation-rules/{id}/assignments", "listAssignments", "validation rules", "Where a rule applies")
            .list_params()
            .ok(200, "Its assignments.", "AssignmentList"),
        v1("post", "/v1/validation-rules/{id}/assignments", "assignValidationRule", "validation rules", "Apply a rule to a voucher or campaign")
            .body("AssignmentInput")
            .ok(200, "The assignment.", "Assignment"),
        v1("delete", "/v1/validation-rules/{id}/assignments/{assignment_id}", "unassignValidationRule", "validation rules", "Remove an assignment")
            .empty(204, "Removed."),
        // --- Client side --------------------------------------------------
        client("get", "/client/v1/validate", "clientValidate", "Validate one code (client, legacy)")
            .describe("The JS SDK's query: `code`, `amount`, `item[i][product_id|sku_id|quantity|price|amount]`, `metadata[k]`, `order[metadata][k]`, `customer[...]`, `tracking_id`.")
            .query_required("code", json!({"type": "string"}), "The code.")
            .query("amount", json!({"type": "integer"}), "The order's amount.")
            .query("tracking_id", json!({"type": "string"}), "The customer's tracking id.")
            .query("item", json!({"type": "array", "items": {"$ref": "#/components/schemas/OrderItemInput"}}), "`item[0][product_id]=...`.")
            .query("customer", json!({"$ref": "#/components/schemas/CustomerInput"}), "`customer[source_id]=...`.")
            .query("metadata", json!({"type": "object"}), "`metadata[k]=v`.")
            .query("order", json!({"type": "object"}), "`order[metadata][k]=v`.")
            .error(400, "BadRequest")
            .ok(200, "Whether the code applies.", "LegacyValidation"),
        preflight("/client/v1/validate", "clientValidatePreflight"),
        client("post", "/client/v1/redeem", "clientRedeem", "Redeem one code (client, legacy)")
            .describe("Needs the client key's redeem permission.")
            .query_required("code", json!({"type": "string"}), "The code.")
            .body("CheckoutRequest")
            .ok(200, "The redemption.", "Redemption"),
        preflight("/client/v1/redeem", "clientRedeemPreflight"),
        client("post", "/client/v1/validations", "clientValidateStack", "Validate several codes together (client)")
            .body("CheckoutRequest")
            .ok(200, "Whether they apply.", "StackedValidation"),
        preflight("/client/v1/validations", "clientValidationsPreflight"),
        client("post", "/client/v1/redemptions", "clientRedeemStack", "Redeem several codes together (client)")
            .describe("Needs the client key's redeem permission.")
            .body("CheckoutRequest")
            .ok(200, "The redemptions.", "StackedRedemption"),
        preflight("/client/v1/redemptions", "clientRedemptionsPreflight"),
        client("post", "/client/v1/qualifications", "clientQualify", "Which codes apply to this cart (client)")
            .body("QualificationRequest")
            .ok(200, "The applicable codes.", "Qualification"),
        preflight("/client/v1/qualifications", "clientQualificationsPreflight"),
        client("post", "/client/v1/publish", "clientPublish", "Give a code to a customer (client)")
            .describe("Needs the client key's publish permission. A `voucher` code in the body, or `?campaign=`; the customer needs an `id` or a `source_id`.")
            .query("campaign", json!({"type": "string"}), "A campaign's name or id.")
            .query("join_once", json!({"type": "boolean"}), "At most one code of the campaign.")
            .body_content(json!({"application/json": {"schema": {
                "type": "object",
                "properties": {
                    "customer": {"$ref": "#/components/schemas/CustomerInput"},
                    "voucher": {"type": "string"}, "source_id": {"type": "string"},
                    "metadata": {"type": "object"},
                },
            }}}), false)
            .ok(200, "The publication.", "Publication"),
        preflight("/client/v1/publish", "clientPublishPreflight"),
        preflight("/client/v1/{rest}", "clientOtherPreflight")
            .describe("Any other path under `/client/v1` answers preflights the same way, and every other method with 404 `not_found`."),
    ];
    ops.extend([
        asset(
            "/v1/assets/qr/{token}",
            "getQrCode",
            "A code as a QR code image",
        ),
        asset(
            "/v1/assets/barcode/{token}",
            "getBarcode",
            "A code as a Code 128 barcode image",
        ),
    ]);
    ops.extend(voucher_item("/v1/vouchers/{code}", ""));
    ops.extend(voucher_item("/v1/vouchers/import", "Import"));
    ops.extend(voucher_item("/v1/vouchers/importCSV", "ImportCsv"));
    ops
}

//! `--url URL`: the scripting commands against a running server,
//! through its Voucherify-compatible API, with the server key in
//! VOUCHER_APP_ID and VOUCHER_APP_TOKEN: every scripting command (the
//! operator's `serve`, `projects`, `keys`, `backup` work on the file).
//! `campaign create` and `add-codes` poll until every code exists; the
//! `create` flags with no wire field yet (`--tz`, `--min-order`,
//! `--per-customer`, `--max-redemptions`, `--currency`) are refused
//! (`remote_unsupported`) rather than dropped. `codes export` makes an
//! export and streams its download; `codes import` uploads the file as
//! `text/csv` and waits for the import. `https://` is verified against the
//! Mozilla roots (rustls, webpki-roots); use it for anything but localhost,
//! since the key travels in the headers.
//! The key decides the project: `--project` and `--db` are not used.
//!
//! The wire writes money as integers, the value times 100, whatever the
//! currency; amounts given on the command line are converted exactly (at
//! most two decimals) and printed back with two decimals. Errors keep the
//! server's key: a refusal exits 1 with its reason key, a 404 exits 3, an
//! unreachable server or a rejected key exits 4.

use std::io::Write as _;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use voucher_core::decision::Reason;

use crate::campaign::CampaignCommand;
use crate::checkout::{CheckoutArgs, CheckoutOut, RollbackArgs, RollbackOut};
use crate::failure::{Exit, Failure};
use crate::output::{self, Fields, Format};
use crate::session::Global;
use crate::voucher_cmd::{CodeArg, VoucherCommand};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Characters kept as they are in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A server and its key.
#[derive(Debug)]
pub struct Remote {
    base: String,
    app_id: String,
    token: String,
    agent: ureq::Agent,
    format: Format,
}

fn unsupported(what: &str) -> Failure {
    Failure::other(
        "remote_unsupported",
        format!("{what} works on the database file only for now (drop --url)"),
    )
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// An amount in major units as the wire's integer (value times 100), exact.
pub fn to_wire(text: &str) -> Result<i64, Failure> {
    let bad = |why: &str| {
        Failure::usage(
            "invalid_amount",
            format!("{text:?} is not an amount: {why}"),
        )
    };
    let value: Decimal = text.trim().parse().map_err(|_| bad("not a number"))?;
    let wire = value
        .checked_mul(Decimal::ONE_HUNDRED)
        .ok_or_else(|| bad("too large"))?;
    if !wire.fract().is_zero() {
        return Err(bad("at most two decimals"));
    }
    i64::try_from(wire).map_err(|_| bad("too large"))
}

/// The wire's integer in major units ("10.00").
fn from_wire(value: &Value) -> Option<String> {
    value.as_i64().map(|w| Decimal::new(w, 2).to_string())
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

impl Remote {
    /// The server of `--url`, with the key of the environment.
    pub fn new(global: &Global, url: &str, command: &crate::Command) -> Result<Remote, Failure> {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(Failure::usage(
                "invalid_url",
                format!("--url {url}: give an http:// or https:// address"),
            ));
        }
        let key = |name: &str| {
            crate::bootstrap::env(name).ok_or_else(|| {
                Failure::usage(
                    "missing_key",
                    format!("--url needs the server key in {name}"),
                )
            })
        };
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        Ok(Remote {
            base: url.trim_end_matches('/').to_owned(),
            app_id: key("VOUCHER_APP_ID")?,
            token: key("VOUCHER_APP_TOKEN")?,
            agent,
            format: global.format(matches!(
                command,
                crate::Command::Redemptions(crate::redemptions::RedemptionsCommand::List(
                    crate::redemptions::ListArgs { csv: true, .. }
                )) | crate::Command::Campaign(CampaignCommand::List(crate::campaign::ListArgs {
                    csv: true,
                    ..
                }))
            )),
        })
    }

    /// Sends a request; a 2xx answer's JSON body, or the failure it says.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let (status, value) = self.exchange(method, path, body)?;
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(api_failure(status, &value))
        }
    }

    /// Sends a request; the answer's status and JSON body.
    fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), Failure> {
        let url = format!("{}{path}", self.base);
        let unreachable =
            |e: ureq::Error| Failure::other("server_unreachable", format!("{method} {url}: {e}"));
        let response = match (method, body) {
            ("GET", _) => self
                .agent
                .get(&url)
                .header("X-App-Id", &self.app_id)
                .header("X-App-Token", &self.token)
                .call(),
            (_, Some(body)) => self
                .agent
                .post(&url)
                .header("X-App-Id", &self.app_id)
                .header("X-App-Token", &self.token)
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes()),
            (_, None) => self
                .agent
                .post(&url)
                .header("X-App-Id", &self.app_id)
                .header("X-App-Token", &self.token)
                .send_empty(),
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(unreachable)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok((status, value))
    }
}

/// The failure an error answer says: its key, and the exit class of its
/// status and key.
fn api_failure(status: u16, body: &Value) -> Failure {
    let key = body["key"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("http_{status}"));
    let mut message = body["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("the server answered {status}"));
    if let Some(details) = body["details"].as_str() {
        message.push_str(&format!(": {details}"));
    }
    if body["resource_type"] == "redemption" {
        if let Some(id) = body["resource_id"].as_str() {
            message.push_str(&format!(" [recorded as {id}]"));
        }
    }
    let exit = match status {
        404 => Exit::NotFound,
        // Bad keys and taken names: "other", as on the file.
        401 | 403 | 409 => Exit::Other,
        _ if Reason::from_key(&key).is_some() || key == "already_rolled_back" => Exit::Refused,
        400..=499 => Exit::Usage,
        _ => Exit::Other,
    };
    Failure { exit, key, message }
}

/// The checkout body of `validate` and `redeem`.
fn checkout_body(args: &CheckoutArgs) -> Result<Value, Failure> {
    let mut items = Vec::new();
    for item in &args.item {
        let bad = || {
            Failure::usage(
                "invalid_item",
                format!("--item {item:?}: expected PRODUCT:QUANTITY:PRICE, e.g. cat-food:2:12.50"),
            )
        };
        let mut parts = item.rsplitn(3, ':');
        let (Some(price), Some(quantity), Some(product)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let quantity: u64 = quantity.trim().parse().map_err(|_| bad())?;
        items.push(json!({"product_id": product, "quantity": quantity, "price": to_wire(price)?}));
    }
    if args.amount.is_none() && items.is_empty() {
        return Err(Failure::usage(
            "missing_amount",
            "give the order: --amount AMOUNT and/or --item PRODUCT:QTY:PRICE",
        ));
    }
    let mut order = json!({ "items": items });
    if let Some(amount) = &args.amount {
        order["amount"] = json!(to_wire(amount)?);
    }
    let mut body = json!({ "order": order });
    if let Some(customer) = &args.customer {
        body["customer"] = json!({ "source_id": customer });
    }
    if let Some(credits) = &args.credits {
        body["gift"] = json!({ "credits": to_wire(credits)? });
    }
    Ok(body)
}

impl Remote {
    fn print<T: Fields>(&self, value: &T) -> Result<(), Failure> {
        output::object(self.format, value)
    }

    fn refused(&self, out: &CheckoutOut, failure: Failure) -> Result<(), Failure> {
        if self.format == Format::Json {
            output::json(out)?;
        }
        Err(failure)
    }

    fn validate(&self, args: &CheckoutArgs) -> Result<(), Failure> {
        let path = format!("/v1/vouchers/{}/validate", segment(&args.code));
        let answer = self.send("POST", &path, Some(&checkout_body(args)?))?;
        let order = &answer["order"];
        let mut out = CheckoutOut {
            valid: answer["valid"].as_bool(),
            code: args.code.clone(),
            amount: from_wire(&order["amount"]),
            ..CheckoutOut::default()
        };
        if answer["valid"] != Value::Bool(true) {
            let failure = api_failure(400, &answer["error"]);
            out.reason = Some(failure.key.clone());
            return self.refused(&out, failure);
        }
        out.discount = from_wire(&order["total_discount_amount"]);
        out.total = from_wire(&order["total_amount"]);
        let gift = &answer["gift"];
        if let (Some(credits), Some(balance)) = (gift["credits"].as_i64(), gift["balance"].as_i64())
        {
            out.credits = from_wire(&json!(credits));
            out.balance = from_wire(&json!(balance - credits));
        }
        self.print(&out)
    }

    fn redeem(&self, args: &CheckoutArgs) -> Result<(), Failure> {
        let path = format!("/v1/vouchers/{}/redemption", segment(&args.code));
        let (status, answer) = self.exchange("POST", &path, Some(&checkout_body(args)?))?;
        if !(200..300).contains(&status) {
            let failure = api_failure(status, &answer);
            if failure.exit != Exit::Refused {
                return Err(failure);
            }
            let out = CheckoutOut {
                result: Some("FAILURE"),
                id: (answer["resource_type"] == "redemption")
                    .then(|| text(&answer["resource_id"]))
                    .flatten(),
                code: args.code.clone(),
                reason: Some(failure.key.clone()),
                ..CheckoutOut::default()
            };
            return self.refused(&out, failure);
        }
        let order = &answer["order"];
        let balance = &answer["voucher"]["gift"]["balance"];
        let out = CheckoutOut {
            result: Some("SUCCESS"),
            id: text(&answer["id"]),
            code: args.code.clone(),
            amount: from_wire(&order["amount"]),
            discount: from_wire(&order["total_discount_amount"]),
            total: from_wire(&order["total_amount"]),
            credits: balance
                .is_i64()
                .then(|| from_wire(&answer["gift"]["amount"]))
                .flatten(),
            balance: from_wire(balance),
            ..CheckoutOut::default()
        };
        self.print(&out)
    }

    fn rollback(&self, args: &RollbackArgs) -> Result<(), Failure> {
        let path = format!("/v1/redemptions/{}/rollback", segment(&args.redemption_id));
        let body = json!({ "reason": args.reason });
        let answer = self.send("POST", &path, Some(&body))?;
        let voucher = &answer["voucher"];
        let credits = answer["gift"]["amount"]
            .as_i64()
            .or_else(|| answer["amount"].as_i64())
            .unwrap_or(0);
        let out = RollbackOut {
            id: text(&answer["id"]).unwrap_or_default(),
            redemption: args.redemption_id.clone(),
            code: text(&voucher["code"]),
            credits: Decimal::new(credits.abs(), 2).to_string(),
            balance: from_wire(&voucher["gift"]["balance"]),
            redeemed: voucher["redemption"]["redeemed_quantity"].as_u64(),
        };
        self.print(&out)
    }

    fn voucher(&self, command: &VoucherCommand) -> Result<(), Failure> {
        let answer = match command {
            VoucherCommand::Show(CodeArg { code }) => {
                self.send("GET", &format!("/v1/vouchers/{}", segment(code)), None)?
            }
            VoucherCommand::Enable(CodeArg { code }) => self.send(
                "POST",
                &format!("/v1/vouchers/{}/enable", segment(code)),
                None,
            )?,
            VoucherCommand::Disable(CodeArg { code }) => self.send(
                "POST",
                &format!("/v1/vouchers/{}/disable", segment(code)),
                None,
            )?,
            VoucherCommand::Balance(args) => return self.balance(args),
        };
        self.print(&RemoteVoucher(answer))
    }

    fn campaign(&self, command: &CampaignCommand) -> Result<(), Failure> {
        let (name, action) = match command {
            CampaignCommand::Show(arg) => {
                let path = format!("/v1/campaigns/{}", segment(&arg.name));
                return self.print(&RemoteCampaign(self.send("GET", &path, None)?));
            }
            CampaignCommand::List(args) => return self.campaigns(args),
            CampaignCommand::AddCodes(args) => return self.add_codes(args),
            CampaignCommand::Stats(arg) => return self.stats(&arg.name),
            CampaignCommand::Enable(arg) => (&arg.name, "enable"),
            CampaignCommand::Disable(arg) => (&arg.name, "disable"),
            _ => return Err(unsupported("this campaign command")),
        };
        let path = format!("/v1/campaigns/{}/{action}", segment(name));
        let answer = self.send("POST", &path, None)?;
        if self.format == Format::Json {
            output::json(&answer)
        } else {
            eprintln!("campaign {name}: {action}d");
            Ok(())
        }
    }

    /// Waits for an async action to finish; its record.
    fn wait_action(&self, id: &str) -> Result<Value, Failure> {
        let path = format!("/v1/async-actions/{}", segment(id));
        for _ in 0..GENERATION_POLLS_MAX {
            let action = self.send("GET", &path, None)?;
            match action["status"].as_str() {
                Some("DONE") => return Ok(action),
                Some("FAILED") => {
                    return Err(Failure::other(
                        "action_failed",
                        format!("{id}: {}", action["result"]["message"]),
                    ))
                }
                _ => std::thread::sleep(GENERATION_POLL),
            }
        }
        Err(Failure::other(
            "generation_timeout",
            format!("{id} still running; see GET /v1/async-actions/{id}"),
        ))
    }

    fn add_codes(&self, args: &crate::campaign::AddCodesArgs) -> Result<(), Failure> {
        let path = format!(
            "/v1/campaigns/{}/vouchers?vouchers_count={}",
            segment(&args.name),
            args.count
        );
        let answer = self.send("POST", &path, Some(&json!({})))?;
        if let Some(action) = answer["async_action_id"].as_str() {
            self.wait_action(action)?;
        }
        let path = format!("/v1/campaigns/{}", segment(&args.name));
        self.print(&RemoteCampaign(self.send("GET", &path, None)?))
    }

    fn stats(&self, name: &str) -> Result<(), Failure> {
        let campaign = self.send("GET", &format!("/v1/campaigns/{}", segment(name)), None)?;
        let id = text(&campaign["id"]).unwrap_or_default();
        let summary = self.send(
            "GET",
            &format!("/v1/campaigns/{}/summary", segment(&id)),
            None,
        )?;
        // The wire's summary has no failures by reason: count them from the
        // log (bounded as every list is).
        let mut failed_by_reason = std::collections::BTreeMap::new();
        let mut page = 1;
        let mut seen = 0;
        while seen < crate::campaign::LIST_ROWS_MAX {
            let path = format!(
                "/v1/redemptions?campaign={}&result=FAILURE&limit={}&page={page}",
                segment(&id),
                crate::campaign::PAGE_ROWS
            );
            let answer = self.send("GET", &path, None)?;
            let found = answer["redemptions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for r in &found {
                if let Some(key) = r["failure_code"].as_str() {
                    *failed_by_reason.entry(key.to_owned()).or_insert(0u64) += 1;
                }
            }
            seen += crate::campaign::PAGE_ROWS;
            if answer["has_more"] != Value::Bool(true) || found.is_empty() {
                break;
            }
            page += 1;
        }
        let int = |field: &str| summary[field].as_i64().unwrap_or(0);
        let count = |field: &str| summary[field].as_u64().unwrap_or(0);
        let money = |minus: i64| Decimal::new(minus, 2).to_string();
        let out = crate::campaign::StatsOut {
            campaign: text(&campaign["name"]).unwrap_or_default(),
            codes_created: count("vouchers_created"),
            codes_published: count("publications_succeeded"),
            redemptions_total: count("redemptions"),
            redemptions_succeeded: count("redemptions_succeeded"),
            redemptions_failed: count("redemptions_failed"),
            rollbacks: count("rollbacks"),
            failed_by_reason,
            discount_given: money(
                int("discounted_amount").saturating_sub(int("rolledback_discounted_amount")),
            ),
            gift_spent: money(int("amount_redeemed")),
            gift_outstanding: money(int("amount_outstanding")),
            orders_amount: money(
                int("orders_amount").saturating_sub(int("orders_rolledback_amount")),
            ),
        };
        self.print(&out)
    }

    fn import_codes(&self, args: &crate::codes::ImportArgs) -> Result<(), Failure> {
        use std::io::Read as _;
        let mut file = Vec::new();
        if args.file.as_os_str() == "-" {
            std::io::stdin().lock().read_to_end(&mut file)?;
        } else {
            file = std::fs::read(&args.file).map_err(|e| {
                let message = format!("{}: {e}", args.file.display());
                if e.kind() == std::io::ErrorKind::NotFound {
                    Failure::not_found(message)
                } else {
                    Failure::other("io_error", message)
                }
            })?;
        }
        let path = match &args.campaign {
            Some(campaign) => format!("/v1/campaigns/{}/importCSV", segment(campaign)),
            None => "/v1/vouchers/importCSV".to_owned(),
        };
        let url = format!("{}{path}", self.base);
        let unreachable =
            |e: ureq::Error| Failure::other("server_unreachable", format!("POST {url}: {e}"));
        let mut response = self
            .agent
            .post(&url)
            .header("X-App-Id", &self.app_id)
            .header("X-App-Token", &self.token)
            .header("Content-Type", "text/csv")
            .send(&file[..])
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(unreachable)?;
        let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(api_failure(status, &answer));
        }
        let action = self.wait_action(answer["async_action_id"].as_str().unwrap_or_default())?;
        let result = &action["result"];
        let failures: Vec<voucher_core::port::ImportFailure> = result["failed"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| voucher_core::port::ImportFailure {
                row: f["row"].as_u64().unwrap_or(0),
                code: text(&f["code"]),
                reason: text(&f["reason"]).unwrap_or_default(),
            })
            .collect();
        for failure in &failures {
            eprintln!(
                "row {}: {}: {}",
                failure.row,
                failure.code.as_deref().unwrap_or("-"),
                failure.reason
            );
        }
        let out = crate::codes::ImportOut {
            imported: result["done_count"].as_u64().unwrap_or(0),
            failed: result["failed_count"].as_u64().unwrap_or(0),
            failures,
        };
        self.print(&out)?;
        if out.failed > 0 {
            return Err(Failure {
                exit: Exit::Refused,
                key: "import_rows_refused".to_owned(),
                message: format!("{} rows refused", out.failed),
            });
        }
        Ok(())
    }

    fn qr(&self, args: &crate::qr::QrArgs) -> Result<(), Failure> {
        let voucher = self.send(
            "GET",
            &format!("/v1/vouchers/{}", segment(&args.code)),
            None,
        )?;
        let code = text(&voucher["code"]).unwrap_or_else(|| args.code.clone());
        crate::qr::write(&code, args, self.format == Format::Json)
    }

    fn campaigns(&self, args: &crate::campaign::ListArgs) -> Result<(), Failure> {
        let limit = args.limit as usize;
        let mut items = Vec::new();
        let mut page = 1;
        while items.len() < limit {
            let path = format!(
                "/v1/campaigns?limit={}&page={page}",
                crate::campaign::PAGE_ROWS
            );
            let answer = self.send("GET", &path, None)?;
            let found = answer["campaigns"].as_array().cloned().unwrap_or_default();
            let total = answer["total"].as_u64().unwrap_or(0);
            items.extend(found.iter().cloned().map(RemoteCampaign));
            if found.is_empty() || items.len() as u64 >= total {
                break;
            }
            page += 1;
        }
        items.truncate(limit);
        output::list(self.format, &items, &REMOTE_CAMPAIGN_HEADERS)
    }

    fn balance(&self, args: &crate::voucher_cmd::BalanceArgs) -> Result<(), Failure> {
        let path = format!("/v1/vouchers/{}/balance", segment(&args.code));
        let body = json!({ "amount": to_wire(&args.add)?, "reason": args.reason });
        let answer = self.send("POST", &path, Some(&body))?;
        let out = crate::voucher_cmd::BalanceOut {
            code: args.code.clone(),
            change: from_wire(&answer["amount"]).unwrap_or_default(),
            balance: from_wire(&answer["balance"]).unwrap_or_default(),
            total: from_wire(&answer["total"]).unwrap_or_default(),
        };
        self.print(&out)
    }
}

impl Remote {
    fn redemptions(&self, args: &crate::redemptions::ListArgs) -> Result<(), Failure> {
        use crate::redemptions::{RedemptionOut, ResultArg, HEADERS};
        let mut filters = Vec::new();
        let mut add = |name: &str, value: &Option<String>| {
            if let Some(value) = value {
                filters.push(format!("{name}={}", segment(value)));
            }
        };
        add("campaign", &args.campaign);
        add("customer", &args.customer);
        add("failure_code", &args.reason);
        add("voucher_code", &args.code);
        add(
            "result",
            &args.result.map(|r| match r {
                ResultArg::Success => "SUCCESS".to_owned(),
                ResultArg::Failure => "FAILURE".to_owned(),
            }),
        );
        let limit = args.limit as usize;
        let mut items = Vec::new();
        let mut vouchers: std::collections::BTreeMap<String, Value> = Default::default();
        let mut page = 1;
        while items.len() < limit {
            let mut query = filters.clone();
            query.push(format!("limit={}", crate::campaign::PAGE_ROWS));
            query.push(format!("page={page}"));
            let answer = self.send("GET", &format!("/v1/redemptions?{}", query.join("&")), None)?;
            let found = answer["redemptions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // As the file's log: redemptions only (see `redemptions::run`).
            for r in found
                .iter()
                .filter(|r| r["object"] != "redemption_rollback")
            {
                let customer = &r["customer"];
                // A failed redemption's wire object names its voucher by id
                // only: read the code and campaign once per voucher.
                let voucher = match (&r["voucher"], r["related_object_id"].as_str()) {
                    (Value::Object(_), _) => r["voucher"].clone(),
                    (_, Some(id)) if r["related_object_type"] == "voucher" => {
                        if !vouchers.contains_key(id) {
                            let found = self
                                .send("GET", &format!("/v1/vouchers/{}", segment(id)), None)
                                .unwrap_or(Value::Null);
                            vouchers.insert(id.to_owned(), found);
                        }
                        vouchers[id].clone()
                    }
                    _ => Value::Null,
                };
                items.push(RedemptionOut {
                    id: text(&r["id"]).unwrap_or_default(),
                    created_at: r["date"]
                        .as_str()
                        .and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok())
                        .map(|d| d.with_timezone(&chrono::Utc))
                        .unwrap_or_default(),
                    code: text(&voucher["code"]),
                    campaign: text(&voucher["campaign"]),
                    customer: text(&customer["source_id"]).or_else(|| text(&customer["id"])),
                    result: if r["result"] == "SUCCESS" {
                        "SUCCESS"
                    } else {
                        "FAILURE"
                    },
                    state: match r["status"].as_str() {
                        Some("SUCCEEDED") => "SUCCEEDED",
                        Some("ROLLED_BACK") => "ROLLED_BACK",
                        _ => "FAILED",
                    },
                    reason: text(&r["failure_code"]),
                    amount: from_wire(&r["order"]["amount"]),
                    discount: from_wire(&r["order"]["total_discount_amount"])
                        .unwrap_or_else(|| "0.00".to_owned()),
                });
            }
            if answer["has_more"] != Value::Bool(true) || found.is_empty() {
                break;
            }
            page += 1;
        }
        items.truncate(limit);
        output::list(self.format, &items, &HEADERS)
    }
}

/// How often a remote campaign's generation status is read.
const GENERATION_POLL: Duration = Duration::from_millis(200);
/// Most polls of a generation (about an hour), so that a stuck server
/// cannot hold the command forever.
const GENERATION_POLLS_MAX: u32 = 18_000;

fn weekday_number(day: &str) -> Result<u8, Failure> {
    let day: chrono::Weekday = day.trim().parse().map_err(|_| {
        Failure::usage(
            "invalid_days",
            format!("--days: {day:?} is not a day (mon..sun)"),
        )
    })?;
    u8::try_from(day.num_days_from_sunday()).map_err(|_| Failure::usage("invalid_days", "bad day"))
}

/// The wire's campaign request for the flags of `campaign create`.
fn campaign_body(args: &crate::campaign::CreateArgs) -> Result<Value, Failure> {
    let refused = |flag: &str| {
        Err(Failure::other(
            "remote_unsupported",
            format!("campaign create {flag} works on the database file only for now (drop --url)"),
        ))
    };
    if args.tz.is_some() {
        return refused("--tz");
    }
    if args.min_order.is_some() {
        return refused("--min-order");
    }
    if args.per_customer.is_some() || args.max_redemptions.is_some() {
        return refused("--per-customer/--max-redemptions");
    }
    if args.currency.is_some() {
        return refused("--currency");
    }
    let is_gift = args.gift.is_some();
    let mut voucher = if let Some(percent) = args.percent_off {
        // A JSON number written from the decimal's own digits.
        let percent_off: Value = serde_json::from_str(&percent.normalize().to_string())
            .map_err(|e| Failure::usage("invalid_discount", e.to_string()))?;
        let mut discount = json!({"type": "PERCENT", "percent_off": percent_off});
        if let Some(cap) = &args.max_discount {
            discount["amount_limit"] = json!(to_wire(cap)?);
        }
        json!({"type": "DISCOUNT_VOUCHER", "discount": discount})
    } else if let Some(amount) = &args.amount_off {
        json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": to_wire(amount)?}})
    } else if let Some(amount) = &args.fixed_price {
        json!({"type": "DISCOUNT_VOUCHER", "discount": {"type": "FIXED", "fixed_amount": to_wire(amount)?}})
    } else if let Some(amount) = &args.gift {
        json!({"type": "GIFT_VOUCHER", "gift": {"amount": to_wire(amount)?}})
    } else {
        return Err(Failure::usage(
            "missing_value",
            "give one of --percent-off, --amount-off, --fixed-price, --gift",
        ));
    };
    let quantity = match (args.unlimited, args.quantity) {
        (true, _) => Value::Null,
        (false, Some(n)) => json!(n),
        (false, None) if is_gift || args.code.is_some() => Value::Null,
        (false, None) => json!(1),
    };
    voucher["redemption"] = json!({ "quantity": quantity });
    let mut code_config = serde_json::Map::new();
    for (name, value) in [
        ("pattern", &args.pattern),
        ("prefix", &args.prefix),
        ("postfix", &args.postfix),
        ("charset", &args.charset),
    ] {
        if let Some(value) = value {
            code_config.insert(name.to_owned(), json!(value));
        }
    }
    if let Some(length) = args.length {
        code_config.insert("length".to_owned(), json!(length));
    }
    voucher["code_config"] = Value::Object(code_config);
    let mut body = json!({
        "name": args.name,
        "description": args.description,
        "campaign_type": if is_gift { "GIFT_VOUCHERS" } else { "DISCOUNT_COUPONS" },
        "type": if args.code.is_some() { "STANDALONE" } else { "STATIC" },
        "active": !args.disabled,
        "voucher": voucher,
    });
    if args.code.is_none() {
        body["vouchers_count"] = json!(args.count.unwrap_or(0));
    }
    if let Some(start) = &args.start {
        body["start_date"] = json!(start);
    }
    if let Some(expire) = &args.expire {
        body["expiration_date"] = json!(expire);
    }
    if !args.days.is_empty() {
        let days = args
            .days
            .iter()
            .map(|d| weekday_number(d))
            .collect::<Result<Vec<_>, _>>()?;
        body["validity_day_of_week"] = json!(days);
    }
    if !args.hours.is_empty() {
        let mut daily = Vec::new();
        for window in &args.hours {
            let (start, end) = window.split_once('-').ok_or_else(|| {
                Failure::usage(
                    "invalid_hours",
                    format!("--hours {window:?}: expected HH:MM-HH:MM"),
                )
            })?;
            daily.push(json!({"start_time": start.trim(), "expiration_time": end.trim()}));
        }
        body["validity_hours"] = json!({ "daily": daily });
    }
    Ok(body)
}

impl Remote {
    fn create_campaign(&self, args: &crate::campaign::CreateArgs) -> Result<(), Failure> {
        let body = campaign_body(args)?;
        let mut campaign = self.send("POST", "/v1/campaigns", Some(&body))?;
        let id = text(&campaign["id"]).unwrap_or_default();
        if let Some(code) = &args.code {
            let path = format!("/v1/campaigns/{}/vouchers/{}", segment(&id), segment(code));
            if let Err(failure) = self.send("POST", &path, Some(&json!({}))) {
                // Leave nothing half made, as the local command does.
                let _ = self.delete_campaign(&id);
                return Err(failure);
            }
        }
        let count = args.count.unwrap_or(0);
        let bar = (args.code.is_none() && count > 0)
            .then(|| crate::progress::bar(count, crate::progress::Unit::Codes))
            .flatten();
        let mut polls = 0;
        loop {
            campaign = self.send("GET", &format!("/v1/campaigns/{}", segment(&id)), None)?;
            if let Some(bar) = &bar {
                bar.set_position(campaign["vouchers_count"].as_u64().unwrap_or(0));
            }
            match campaign["vouchers_generation_status"].as_str() {
                Some("IN_PROGRESS") if polls < GENERATION_POLLS_MAX => {
                    polls += 1;
                    std::thread::sleep(GENERATION_POLL);
                }
                Some("IN_PROGRESS") => {
                    return Err(Failure::other(
                        "generation_timeout",
                        format!("campaign {id}: codes still being generated; see campaign show"),
                    ))
                }
                Some("FAILED") => {
                    return Err(Failure::other(
                        "generation_failed",
                        format!("campaign {id}: code generation failed"),
                    ))
                }
                _ => break,
            }
        }
        if let Some(bar) = bar {
            bar.finish();
        }
        self.print(&RemoteCampaign(campaign))
    }

    fn delete_campaign(&self, id: &str) -> Result<(), Failure> {
        let url = format!("{}/v1/campaigns/{}", self.base, segment(id));
        self.agent
            .delete(&url)
            .header("X-App-Id", &self.app_id)
            .header("X-App-Token", &self.token)
            .call()
            .map(|_| ())
            .map_err(|e| Failure::other("server_unreachable", e.to_string()))
    }

    fn export_codes(&self, args: &crate::codes::ExportArgs) -> Result<(), Failure> {
        let mut parameters = json!({ "order": "created_at" });
        if let Some(campaign) = &args.campaign {
            // An unknown campaign is "not found", not an empty file.
            self.send("GET", &format!("/v1/campaigns/{}", segment(campaign)), None)?;
            parameters["filters"] = json!({ "campaign": { "conditions": { "$is": [campaign] } } });
        }
        let body = json!({ "exported_object": "voucher", "parameters": parameters });
        let export = self.send("POST", "/v1/exports", Some(&body))?;
        let id = text(&export["id"]).unwrap_or_default();
        let url = format!("{}/v1/exports/{}/download", self.base, segment(&id));
        let unreachable =
            |e: ureq::Error| Failure::other("server_unreachable", format!("GET {url}: {e}"));
        let mut response = self
            .agent
            .get(&url)
            .header("X-App-Id", &self.app_id)
            .header("X-App-Token", &self.token)
            .call()
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.body_mut().read_to_string().map_err(unreachable)?;
            return Err(api_failure(
                status,
                &serde_json::from_str(&text).unwrap_or(Value::Null),
            ));
        }
        let mut reader = response.body_mut().as_reader();
        let Some(path) = &args.output else {
            std::io::copy(&mut reader, &mut std::io::stdout().lock())?;
            return Ok(());
        };
        let file = std::fs::File::create(path)
            .map_err(|e| Failure::other("io_error", format!("{}: {e}", path.display())))?;
        let mut out = crate::progress::WriteProgress {
            inner: std::io::BufWriter::new(file),
            bar: None,
            lines: 0,
        };
        std::io::copy(&mut reader, &mut out)?;
        out.flush()?;
        // The header is a line too.
        let rows = out.lines.saturating_sub(1);
        let out = crate::codes::ExportOut {
            exported: rows,
            file: path.display().to_string(),
        };
        self.print(&out)
    }
}

const REMOTE_CAMPAIGN_HEADERS: [&str; 12] = [
    "name",
    "id",
    "type",
    "kind",
    "value",
    "quantity",
    "codes",
    "generation",
    "active",
    "start",
    "expire",
    "created_at",
];

/// A campaign as the server shows it, printed with the local command's
/// field names.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct RemoteCampaign(Value);

impl Fields for RemoteCampaign {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let c = &self.0;
        let shown = |value: &Value| text(value).unwrap_or_default();
        let voucher = &c["voucher"];
        vec![
            ("name", shown(&c["name"])),
            ("id", shown(&c["id"])),
            ("type", shown(&c["campaign_type"])),
            ("kind", shown(&c["type"])),
            ("value", describe(voucher)),
            ("quantity", quantity(voucher)),
            ("codes", c["vouchers_count"].to_string()),
            ("generation", shown(&c["vouchers_generation_status"])),
            ("active", c["active"].to_string()),
            ("start", shown(&c["start_date"])),
            ("expire", shown(&c["expiration_date"])),
            ("created_at", shown(&c["created_at"])),
        ]
    }
}

/// What a wire voucher (or campaign template) is worth, in words.
fn describe(v: &Value) -> String {
    let discount = &v["discount"];
    match (v["type"].as_str(), discount["type"].as_str()) {
        (Some("GIFT_VOUCHER"), _) => {
            format!(
                "gift {}",
                from_wire(&v["gift"]["amount"]).unwrap_or_default()
            )
        }
        (_, Some("PERCENT")) => format!("{}% off", discount["percent_off"]),
        (_, Some("AMOUNT")) => {
            format!(
                "{} off",
                from_wire(&discount["amount_off"]).unwrap_or_default()
            )
        }
        (_, Some("FIXED")) => format!(
            "fixed price {}",
            from_wire(&discount["fixed_amount"]).unwrap_or_default()
        ),
        (_, other) => other.unwrap_or_default().to_owned(),
    }
}

fn quantity(v: &Value) -> String {
    match &v["redemption"]["quantity"] {
        Value::Null => "unlimited".to_owned(),
        q => q.to_string(),
    }
}

/// A voucher as the server shows it, printed with the local command's
/// field names.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct RemoteVoucher(Value);

impl Fields for RemoteVoucher {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let v = &self.0;
        let (value, quantity) = (describe(v), quantity(v));
        let shown = |value: &Value| text(value).unwrap_or_default();
        vec![
            ("code", shown(&v["code"])),
            ("id", shown(&v["id"])),
            ("campaign", shown(&v["campaign"])),
            ("value", value),
            ("quantity", quantity),
            ("redeemed", v["redemption"]["redeemed_quantity"].to_string()),
            (
                "balance",
                from_wire(&v["gift"]["balance"]).unwrap_or_default(),
            ),
            ("active", v["active"].to_string()),
            ("start", shown(&v["start_date"])),
            ("expire", shown(&v["expiration_date"])),
            ("holder", shown(&v["holder_id"])),
            ("created_at", shown(&v["created_at"])),
        ]
    }
}

/// Runs a command against the server of `--url`.
pub fn run(global: &Global, url: &str, command: &crate::Command) -> Result<(), Failure> {
    use crate::Command;
    let supported = match command {
        Command::Validate(_)
        | Command::Redeem(_)
        | Command::Rollback(_)
        | Command::Redemptions(_) => true,
        Command::Voucher(_) => true,
        Command::Campaign(command) => matches!(
            command,
            CampaignCommand::Create(_)
                | CampaignCommand::List(_)
                | CampaignCommand::Show(_)
                | CampaignCommand::Enable(_)
                | CampaignCommand::Disable(_)
                | CampaignCommand::AddCodes(_)
                | CampaignCommand::Stats(_)
        ),
        Command::Codes(_) | Command::Qr(_) => true,
        _ => false,
    };
    if !supported {
        return Err(unsupported("this command"));
    }
    let remote = Remote::new(global, url, command)?;
    match command {
        Command::Validate(args) => remote.validate(args),
        Command::Redeem(args) => remote.redeem(args),
        Command::Rollback(args) => remote.rollback(args),
        Command::Voucher(command) => remote.voucher(command),
        Command::Campaign(CampaignCommand::Create(args)) => remote.create_campaign(args),
        Command::Campaign(command) => remote.campaign(command),
        Command::Codes(crate::codes::CodesCommand::Export(args)) => remote.export_codes(args),
        Command::Codes(crate::codes::CodesCommand::Import(args)) => remote.import_codes(args),
        Command::Qr(args) => remote.qr(args),
        Command::Redemptions(crate::redemptions::RedemptionsCommand::List(args)) => {
            remote.redemptions(args)
        }
        _ => Err(unsupported("this command")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_the_wire_integer_exactly() {
        let check = |text: &str, expected: Result<i64, &str>| {
            let got = to_wire(text).map_err(|f| f.key);
            assert_eq!(
                got.as_ref().map_err(String::as_str),
                expected.as_ref().map_err(|k| *k),
                "{text}"
            );
        };
        check("10.00", Ok(1000));
        check("10", Ok(1000));
        check("0.5", Ok(50));
        check("10.005", Err("invalid_amount"));
        check("x", Err("invalid_amount"));
    }

    #[test]
    fn error_answers_keep_their_key_and_exit_class() {
        let check = |status, body: Value, exit, key: &str| {
            let failure = api_failure(status, &body);
            assert_eq!((failure.exit, failure.key.as_str()), (exit, key));
        };
        check(
            400,
            json!({"key": "voucher_expired", "message": "voucher expired"}),
            Exit::Refused,
            "voucher_expired",
        );
        check(
            404,
            json!({"key": "not_found"}),
            Exit::NotFound,
            "not_found",
        );
        check(
            401,
            json!({"key": "unauthorized"}),
            Exit::Other,
            "unauthorized",
        );
        check(
            400,
            json!({"key": "invalid_payload"}),
            Exit::Usage,
            "invalid_payload",
        );
        check(
            409,
            json!({"key": "duplicate_found"}),
            Exit::Other,
            "duplicate_found",
        );
        check(502, Value::Null, Exit::Other, "http_502");
    }
}

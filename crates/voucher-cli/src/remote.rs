//! `--url URL`: the checkout and code commands against a running server,
//! through its Voucherify-compatible API, with the server key in
//! VOUCHER_APP_ID and VOUCHER_APP_TOKEN. What works remotely so far:
//! `validate`, `redeem`, `rollback`, `voucher show | enable | disable`,
//! `campaign enable | disable` and `redemptions list`; the other commands refuse `--url`
//! (`remote_unsupported`). Plain `http://` only (this build has no TLS).
//!
//! The wire writes money as integers, the value times 100, whatever the
//! currency; amounts given on the command line are converted exactly (at
//! most two decimals) and printed back with two decimals. Errors keep the
//! server's key: a refusal exits 1 with its reason key, a 404 exits 3, an
//! unreachable server or a rejected key exits 4.

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
        if !url.starts_with("http://") {
            return Err(Failure::usage(
                "invalid_url",
                format!("--url {url}: give an http:// address (this build has no TLS)"),
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
                ))
            )),
        })
    }

    /// Sends a request; a 2xx answer's JSON body, or the failure it says.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
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
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(api_failure(status, &value))
        }
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
    let exit = match status {
        404 => Exit::NotFound,
        401 | 403 => Exit::Other,
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
        let answer = match self.send("POST", &path, Some(&checkout_body(args)?)) {
            Ok(answer) => answer,
            Err(failure) if failure.exit == Exit::Refused => {
                let out = CheckoutOut {
                    result: Some("FAILURE"),
                    code: args.code.clone(),
                    reason: Some(failure.key.clone()),
                    ..CheckoutOut::default()
                };
                return self.refused(&out, failure);
            }
            Err(failure) => return Err(failure),
        };
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
            VoucherCommand::Balance(_) => return Err(unsupported("voucher balance")),
        };
        self.print(&RemoteVoucher(answer))
    }

    fn campaign(&self, command: &CampaignCommand) -> Result<(), Failure> {
        let (name, action) = match command {
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
            for r in &found {
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

/// A voucher as the server shows it, printed with the local command's
/// field names.
#[derive(Debug, serde::Serialize)]
#[serde(transparent)]
struct RemoteVoucher(Value);

impl Fields for RemoteVoucher {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let v = &self.0;
        let discount = &v["discount"];
        let value = match (v["type"].as_str(), discount["type"].as_str()) {
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
        };
        let quantity = match &v["redemption"]["quantity"] {
            Value::Null => "unlimited".to_owned(),
            q => q.to_string(),
        };
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
        Command::Voucher(command) => !matches!(command, VoucherCommand::Balance(_)),
        Command::Campaign(command) => matches!(
            command,
            CampaignCommand::Enable(_) | CampaignCommand::Disable(_)
        ),
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
        Command::Campaign(command) => remote.campaign(command),
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
        check(502, Value::Null, Exit::Other, "http_502");
    }
}

//! `voucher campaign ...`: create a campaign (its codes generated before the
//! command returns), list, show, enable, disable, add codes, stats.
//!
//! `create` translates flags into a [`CampaignSpec`]; the store checks it
//! (code space, validity) and the core decides everything else. A campaign
//! of one given code (`--code FEEDMEHUMAN`) is a STANDALONE campaign with
//! that voucher; otherwise it is STATIC with `--count` generated codes.
//! `--min-order` becomes a validation rule (`order.amount` at least that)
//! assigned to the campaign. If a step after the campaign's creation fails,
//! the campaign (and its rule) is deleted again, so a failed `create` can
//! simply be run again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc, Weekday};
use rust_decimal::Decimal;
use serde::Serialize;
use voucher_core::code_pattern::{Code, CodeConfig};
use voucher_core::discount::{Discount, DiscountValue, ItemTargets};
use voucher_core::port::{
    AssignmentTarget, BenefitSpec, CampaignQueries, CampaignRecord, CampaignSpec, CampaignStore,
    GenerationStatus, ListQuery, RuleSpec, RuleStore, VoucherSpec, VoucherStore, VoucherTemplate,
};
use voucher_core::rules::{RawMessage, RawRule, RawRuleSet, RawRules};
use voucher_core::validity::{DaySet, HoursWindow, Moment, TimeOfDay, Validity};
use voucher_core::value::Value;
use voucher_core::voucher::{
    Activity, CampaignKind, CampaignLimits, CampaignType, RedemptionQuantity,
};

use crate::bootstrap::{parse_currency, parse_time_zone, random_seed};
use crate::failure::Failure;
use crate::output::{self, Fields, Format};
use crate::session::{Global, Session};

/// The actor named in the audit log for changes made from the command line.
pub const ACTOR: &str = "cli";

/// Most rows a list prints (use filters to narrow).
pub const LIST_ROWS_MAX: u32 = 10_000;
/// Rows per page read from the store (its page size limit).
pub const PAGE_ROWS: u32 = 100;

/// `voucher campaign ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CampaignCommand {
    /// Create a campaign and its codes; returns once every code exists.
    #[command(after_help = "Examples:\n  \
        voucher campaign create --name Spring --percent-off 25 --count 200 --prefix CAT- --length 8 --start 2027-04-01\n  \
        voucher campaign create --name Public --percent-off 25 --code FEEDMEHUMAN\n  \
        voucher campaign create --name Cards --gift 50.00 --count 100 --pattern 'GC-####-####'\n  \
        voucher campaign create --name Evenings --amount-off 10.00 --min-order 100.00 --days sat,sun --hours 18:00-22:00 --tz Europe/Warsaw --count 50")]
    Create(Box<CreateArgs>),
    /// List campaigns, newest first.
    #[command(after_help = "Example:\n  voucher campaign list --csv > campaigns.csv")]
    List(ListArgs),
    /// Show a campaign.
    #[command(after_help = "Example:\n  voucher campaign show Spring")]
    Show(NameArg),
    /// Enable a campaign: its codes can be used again.
    #[command(after_help = "Example:\n  voucher campaign enable Spring")]
    Enable(NameArg),
    /// Disable a campaign: none of its codes can be used (`voucher_disabled`).
    #[command(after_help = "Example:\n  voucher campaign disable Spring")]
    Disable(NameArg),
    /// Generate more codes for a campaign.
    #[command(after_help = "Example:\n  voucher campaign add-codes Spring --count 100")]
    AddCodes(AddCodesArgs),
    /// A campaign's figures: codes, redemptions, failures by reason, money given.
    #[command(after_help = "Example:\n  voucher campaign stats Spring --json")]
    Stats(NameArg),
}

/// A campaign's name (or id).
#[derive(Debug, clap::Args)]
pub struct NameArg {
    /// The campaign's name or id.
    pub name: String,
}

/// Flags of `campaign list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
    /// Most rows to print.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=i64::from(LIST_ROWS_MAX)))]
    pub limit: u32,
}

/// Flags of `campaign add-codes`.
#[derive(Debug, clap::Args)]
pub struct AddCodesArgs {
    /// The campaign's name or id.
    pub name: String,
    /// How many codes to add.
    #[arg(long)]
    pub count: u64,
}

/// Flags of `campaign create`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("value").required(true).args(["percent_off", "amount_off", "fixed_price", "gift"])))]
pub struct CreateArgs {
    /// Unique name of the campaign.
    #[arg(long)]
    pub name: String,
    /// Free text.
    #[arg(long)]
    pub description: Option<String>,
    /// Percent off the order (0 to 100).
    #[arg(long, value_name = "PERCENT")]
    pub percent_off: Option<Decimal>,
    /// Cap of a percent discount, in major units.
    #[arg(long, value_name = "AMOUNT", requires = "percent_off")]
    pub max_discount: Option<String>,
    /// Amount off the order, in major units ("10.00").
    #[arg(long, value_name = "AMOUNT")]
    pub amount_off: Option<String>,
    /// A fixed final price of the order, in major units.
    #[arg(long, value_name = "AMOUNT")]
    pub fixed_price: Option<String>,
    /// Gift cards with this balance, in major units.
    #[arg(long, value_name = "AMOUNT")]
    pub gift: Option<String>,
    /// How many unique codes to generate.
    #[arg(long, conflicts_with = "code")]
    pub count: Option<u64>,
    /// One given code instead (a shared public code, or one gift card).
    #[arg(long, conflicts_with_all = ["pattern", "prefix", "postfix", "length", "charset"])]
    pub code: Option<String>,
    /// The codes' shape: each # is a random character (CAT-####-####).
    #[arg(long, conflicts_with = "length")]
    pub pattern: Option<String>,
    /// Text before each code.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Text after each code.
    #[arg(long)]
    pub postfix: Option<String>,
    /// Random characters per code (default 8).
    #[arg(long)]
    pub length: Option<usize>,
    /// The characters codes are drawn from, each listed once (default 0-9a-zA-Z).
    #[arg(long)]
    pub charset: Option<String>,
    /// Uses per code (default: 1 for generated discount codes; unlimited for
    /// a given --code and for gift cards).
    #[arg(long, conflicts_with = "unlimited")]
    pub quantity: Option<u64>,
    /// Codes may be used any number of times.
    #[arg(long)]
    pub unlimited: bool,
    /// Not valid before: a date (2027-04-01, from its midnight in the time
    /// zone) or an RFC 3339 time.
    #[arg(long)]
    pub start: Option<String>,
    /// Not valid after: a date (through its last instant) or an RFC 3339 time.
    #[arg(long)]
    pub expire: Option<String>,
    /// Valid only on these days: mon,tue,wed,thu,fri,sat,sun.
    #[arg(long, value_delimiter = ',')]
    pub days: Vec<String>,
    /// Valid only in these daily hours, HH:MM-HH:MM (repeat for several).
    #[arg(long)]
    pub hours: Vec<String>,
    /// The time zone of dates, days and hours (default: the project's).
    #[arg(long)]
    pub tz: Option<String>,
    /// The currency of amounts; must be the project's (a new database's
    /// `default` project is created in it).
    #[arg(long)]
    pub currency: Option<String>,
    /// Valid only on orders of at least this amount, in major units.
    #[arg(long, value_name = "AMOUNT")]
    pub min_order: Option<String>,
    /// Most uses of the campaign's codes per customer (needs --customer at checkout).
    #[arg(long)]
    pub per_customer: Option<u64>,
    /// Most redemptions of the whole campaign.
    #[arg(long)]
    pub max_redemptions: Option<u64>,
    /// Create it disabled.
    #[arg(long)]
    pub disabled: bool,
}

/// A campaign as printed.
#[derive(Debug, Serialize)]
pub struct CampaignOut {
    /// `camp_...`.
    pub id: String,
    /// Name.
    pub name: String,
    /// `DISCOUNT_COUPONS` or `GIFT_VOUCHERS`.
    #[serde(rename = "type")]
    pub campaign_type: &'static str,
    /// `STATIC`, `AUTO_UPDATE`, `STANDALONE`.
    pub kind: &'static str,
    /// What each code is worth.
    pub value: String,
    /// Uses per code: a number or `unlimited`.
    pub quantity: String,
    /// Codes that exist.
    pub codes: u64,
    /// `IN_PROGRESS`, `DONE`, `FAILED`.
    pub generation: &'static str,
    /// Enabled?
    pub active: bool,
    /// Start, as given.
    pub start: Option<String>,
    /// Expiry, as given.
    pub expire: Option<String>,
    /// The zone of its dates, if not the project's.
    pub time_zone: Option<String>,
    /// Uses per customer.
    pub per_customer: Option<u64>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

impl Fields for CampaignOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("id", self.id.clone()),
            ("type", self.campaign_type.to_owned()),
            ("kind", self.kind.to_owned()),
            ("value", self.value.clone()),
            ("quantity", self.quantity.clone()),
            ("codes", self.codes.to_string()),
            ("generation", self.generation.to_owned()),
            ("active", self.active.to_string()),
            ("start", self.start.clone().unwrap_or_default()),
            ("expire", self.expire.clone().unwrap_or_default()),
            ("time_zone", self.time_zone.clone().unwrap_or_default()),
            (
                "per_customer",
                self.per_customer.map(|n| n.to_string()).unwrap_or_default(),
            ),
            ("created_at", self.created_at.to_rfc3339()),
        ]
    }
}

const CAMPAIGN_HEADERS: [&str; 14] = [
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
    "time_zone",
    "per_customer",
    "created_at",
];

/// What a benefit is worth, in words ("25% off", "10.00 off", "gift 50.00").
pub fn describe_benefit(benefit: &BenefitSpec, session: &Session) -> String {
    match benefit {
        BenefitSpec::Gift { amount_minor } => format!("gift {}", session.show(*amount_minor)),
        BenefitSpec::Discount(discount) => match discount.value() {
            DiscountValue::Amount { amount_off } => format!("{amount_off} off"),
            DiscountValue::Percent {
                percent_off,
                amount_limit,
            } => match amount_limit {
                Some(cap) => format!("{}% off, at most {cap}", percent_off.normalize()),
                None => format!("{}% off", percent_off.normalize()),
            },
            DiscountValue::Fixed { fixed_amount } => format!("fixed price {fixed_amount}"),
            DiscountValue::Unit { unit_off, .. } => format!("{unit_off} free unit(s)"),
        },
    }
}

/// Uses per code, in words.
pub fn describe_quantity(quantity: RedemptionQuantity) -> String {
    match quantity {
        RedemptionQuantity::Limited(n) => n.to_string(),
        RedemptionQuantity::Unlimited => "unlimited".to_owned(),
    }
}

fn campaign_out(record: &CampaignRecord, session: &Session) -> CampaignOut {
    let spec = &record.spec;
    CampaignOut {
        id: record.id.clone(),
        name: spec.name.clone(),
        campaign_type: match spec.campaign_type {
            CampaignType::DiscountCoupons => "DISCOUNT_COUPONS",
            CampaignType::GiftVouchers => "GIFT_VOUCHERS",
        },
        kind: match spec.kind {
            CampaignKind::Static => "STATIC",
            CampaignKind::AutoUpdate => "AUTO_UPDATE",
            CampaignKind::Standalone => "STANDALONE",
        },
        value: describe_benefit(&spec.template.benefit, session),
        quantity: describe_quantity(spec.template.quantity),
        codes: record.codes_count,
        generation: match record.generation {
            GenerationStatus::InProgress => "IN_PROGRESS",
            GenerationStatus::Done => "DONE",
            GenerationStatus::Failed => "FAILED",
        },
        active: spec.activity.is_enabled(),
        start: spec.validity.start.map(|m| m.to_string()),
        expire: spec.validity.expiration.map(|m| m.to_string()),
        time_zone: spec.time_zone.map(|tz| tz.name().to_owned()),
        per_customer: spec.limits.per_customer_max,
        created_at: record.created_at,
    }
}

/// Runs `voucher campaign ...`.
pub fn run(global: &Global, command: &CampaignCommand) -> Result<(), Failure> {
    match command {
        CampaignCommand::Create(args) => create(global, args),
        CampaignCommand::List(args) => {
            let session = global.session(args.csv)?;
            let mut items = Vec::new();
            let mut page = 1;
            while items.len() < args.limit as usize {
                let query = ListQuery {
                    limit: PAGE_ROWS,
                    page,
                    ..ListQuery::default()
                };
                let found = session.store.campaigns(session.id(), &query)?;
                items.extend(found.items.iter().map(|c| campaign_out(c, &session)));
                if !found.has_more || found.items.is_empty() {
                    break;
                }
                page += 1;
            }
            items.truncate(args.limit as usize);
            output::list(session.format, &items, &CAMPAIGN_HEADERS)
        }
        CampaignCommand::Show(NameArg { name }) => {
            let session = global.session(false)?;
            let record = session.store.campaign(session.id(), name)?;
            output::object(session.format, &campaign_out(&record, &session))
        }
        CampaignCommand::Enable(NameArg { name }) | CampaignCommand::Disable(NameArg { name }) => {
            let session = global.session(false)?;
            let active = matches!(command, CampaignCommand::Enable(_));
            let record =
                session
                    .store
                    .set_campaign_active(session.id(), name, active, ACTOR, Utc::now())?;
            output::object(session.format, &campaign_out(&record, &session))
        }
        CampaignCommand::AddCodes(args) => {
            let session = global.session(false)?;
            let record = session.store.campaign(session.id(), &args.name)?;
            if record.spec.kind == CampaignKind::Standalone {
                return Err(Failure::usage(
                    "invalid_campaign",
                    format!(
                        "campaign {} has one given code; it takes no generated codes",
                        record.spec.name
                    ),
                ));
            }
            let made = crate::progress::generate_codes(
                &session.store,
                session.id(),
                &record.id,
                args.count,
                random_seed()?,
            )?;
            let record = session.store.campaign(session.id(), &record.id)?;
            if session.format == Format::Text {
                eprintln!("added {made} codes to campaign {}", record.spec.name);
            }
            output::object(session.format, &campaign_out(&record, &session))
        }
        CampaignCommand::Stats(NameArg { name }) => {
            let session = global.session(false)?;
            let record = session.store.campaign(session.id(), name)?;
            let summary = session.store.campaign_summary(session.id(), &record.id)?;
            let out = StatsOut {
                campaign: record.spec.name.clone(),
                codes_created: summary.vouchers_created,
                codes_published: summary.vouchers_published,
                redemptions_total: summary.redemptions_total,
                redemptions_succeeded: summary.redemptions_succeeded,
                redemptions_failed: summary.redemptions_failed,
                rollbacks: summary.rollbacks,
                failed_by_reason: summary.failed_by_reason.clone(),
                discount_given: session.show(
                    summary
                        .discounted_amount_minor
                        .saturating_sub(summary.rolledback_discounted_amount_minor),
                ),
                gift_spent: session.show(summary.gift_spent_minor),
                gift_outstanding: session.show(summary.gift_outstanding_minor),
                orders_amount: session.show(
                    summary
                        .orders_amount_minor
                        .saturating_sub(summary.orders_rolledback_amount_minor),
                ),
            };
            output::object(session.format, &out)
        }
    }
}

/// A campaign's figures as printed (money net of rollbacks).
#[derive(Debug, Serialize)]
pub struct StatsOut {
    /// The campaign's name.
    pub campaign: String,
    /// Codes created.
    pub codes_created: u64,
    /// Codes published.
    pub codes_published: u64,
    /// Redemption attempts.
    pub redemptions_total: u64,
    /// Successful ones.
    pub redemptions_succeeded: u64,
    /// Failed ones.
    pub redemptions_failed: u64,
    /// Rollbacks.
    pub rollbacks: u64,
    /// Failed redemptions by reason key.
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Discount given, net of rollbacks.
    pub discount_given: String,
    /// Gift credits spent, net of rollbacks.
    pub gift_spent: String,
    /// Gift balances outstanding.
    pub gift_outstanding: String,
    /// Amount of the orders redeemed with a code, net of rollbacks.
    pub orders_amount: String,
}

impl Fields for StatsOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let reasons: Vec<String> = self
            .failed_by_reason
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        vec![
            ("campaign", self.campaign.clone()),
            ("codes_created", self.codes_created.to_string()),
            ("codes_published", self.codes_published.to_string()),
            ("redemptions_total", self.redemptions_total.to_string()),
            (
                "redemptions_succeeded",
                self.redemptions_succeeded.to_string(),
            ),
            ("redemptions_failed", self.redemptions_failed.to_string()),
            ("rollbacks", self.rollbacks.to_string()),
            ("failed_by_reason", reasons.join(", ")),
            ("discount_given", self.discount_given.clone()),
            ("gift_spent", self.gift_spent.clone()),
            ("gift_outstanding", self.gift_outstanding.clone()),
            ("orders_amount", self.orders_amount.clone()),
        ]
    }
}

fn usage(key: &str) -> impl Fn(String) -> Failure + '_ {
    move |message| Failure::usage(key, message)
}

/// The validity the flags describe.
fn validity(args: &CreateArgs) -> Result<Validity, Failure> {
    let moment = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| {
                Moment::parse(t).map_err(|e| {
                    Failure::usage(
                        "invalid_date",
                        format!("--{flag} {t:?}: {e} (a date 2027-04-01 or an RFC 3339 time)"),
                    )
                })
            })
            .transpose()
    };
    let days = args
        .days
        .iter()
        .map(|d| {
            d.trim().parse::<Weekday>().map_err(|_| {
                Failure::usage(
                    "invalid_days",
                    format!("--days: {d:?} is not a day (mon..sun)"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let daily_hours = args
        .hours
        .iter()
        .map(|window| {
            let (start, end) = window.split_once('-').ok_or_else(|| {
                Failure::usage(
                    "invalid_hours",
                    format!("--hours {window:?}: expected HH:MM-HH:MM"),
                )
            })?;
            let time = |t: &str| {
                TimeOfDay::parse(t.trim())
                    .map_err(|e| e.to_string())
                    .map_err(usage("invalid_hours"))
            };
            Ok(HoursWindow {
                start_time: time(start)?,
                expiration_time: time(end)?,
                days_of_week: None,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok(Validity {
        start: moment("start", &args.start)?,
        expiration: moment("expire", &args.expire)?,
        days_of_week: (!days.is_empty()).then(|| DaySet::of(&days)),
        daily_hours,
        timeframe: None,
    })
}

/// The benefit the flags describe.
fn benefit(args: &CreateArgs, session: &Session) -> Result<BenefitSpec, Failure> {
    let value = if let Some(percent_off) = args.percent_off {
        DiscountValue::Percent {
            percent_off,
            amount_limit: args
                .max_discount
                .as_deref()
                .map(|a| session.money(a))
                .transpose()?,
        }
    } else if let Some(amount) = &args.amount_off {
        DiscountValue::Amount {
            amount_off: session.money(amount)?,
        }
    } else if let Some(amount) = &args.fixed_price {
        DiscountValue::Fixed {
            fixed_amount: session.money(amount)?,
        }
    } else if let Some(amount) = &args.gift {
        let amount_minor = session.minor(amount)?;
        if amount_minor < 0 {
            return Err(Failure::usage(
                "invalid_amount",
                "--gift must not be negative",
            ));
        }
        return Ok(BenefitSpec::Gift { amount_minor });
    } else {
        return Err(Failure::usage(
            "missing_value",
            "give one of --percent-off, --amount-off, --fixed-price, --gift",
        ));
    };
    Discount::with_default_effect(value, ItemTargets::Undefined)
        .map(BenefitSpec::Discount)
        .map_err(|e| Failure::usage("invalid_discount", e.to_string()))
}

fn min_order_rule(campaign_id: &str, amount: Decimal, shown: &str) -> RuleSpec {
    let mut conditions = BTreeMap::new();
    conditions.insert(
        "$more_than_or_equal".to_owned(),
        vec![Value::Number(amount)],
    );
    let mut rules = BTreeMap::new();
    rules.insert(
        "1".to_owned(),
        RawRule {
            name: "order.amount".to_owned(),
            property: None,
            conditions,
            rules: RawRules::default(),
            error: Some(RawMessage {
                message: Some(format!("The order must be at least {shown}")),
            }),
        },
    );
    RuleSpec {
        name: format!("min-order {campaign_id}"),
        raw: RawRuleSet {
            rules: RawRules { logic: None, rules },
            error: None,
            applicable_to: Default::default(),
        },
    }
}

fn create(global: &Global, args: &CreateArgs) -> Result<(), Failure> {
    let currency = args.currency.as_deref().map(parse_currency).transpose()?;
    let session = global.session_in(currency, false)?;
    if let Some(currency) = currency {
        if currency != session.currency() {
            return Err(Failure::usage(
                "currency_mismatch",
                format!(
                    "--currency {currency}: project {} is in {}",
                    session.project.spec.name,
                    session.currency()
                ),
            ));
        }
    }
    let benefit = benefit(args, &session)?;
    let is_gift = matches!(benefit, BenefitSpec::Gift { .. });
    let code = args
        .code
        .as_deref()
        .map(|c| Code::parse(c).map_err(|e| Failure::usage("invalid_code", e.to_string())))
        .transpose()?;
    let quantity = match (args.unlimited, args.quantity) {
        (true, _) => RedemptionQuantity::Unlimited,
        (false, Some(n)) => RedemptionQuantity::Limited(n),
        (false, None) if is_gift || code.is_some() => RedemptionQuantity::Unlimited,
        (false, None) => RedemptionQuantity::Limited(1),
    };
    let min_order = args
        .min_order
        .as_deref()
        .map(|a| session.money(a))
        .transpose()?;
    let count = if code.is_some() {
        0
    } else {
        args.count.unwrap_or(0)
    };
    let spec = CampaignSpec {
        name: args.name.clone(),
        description: args.description.clone(),
        campaign_type: if is_gift {
            CampaignType::GiftVouchers
        } else {
            CampaignType::DiscountCoupons
        },
        kind: if code.is_some() {
            CampaignKind::Standalone
        } else {
            CampaignKind::Static
        },
        activity: Activity::from_active(!args.disabled),
        validity: validity(args)?,
        time_zone: args.tz.as_deref().map(parse_time_zone).transpose()?,
        limits: CampaignLimits {
            redemptions_max: args.max_redemptions,
            per_customer_max: args.per_customer,
            budget_max_minor: None,
        },
        categories: Vec::new(),
        template: VoucherTemplate {
            benefit,
            quantity,
            code_config: CodeConfig {
                length: args.length,
                charset: args.charset.clone(),
                prefix: args.prefix.clone(),
                postfix: args.postfix.clone(),
                pattern: args.pattern.clone(),
            },
        },
        vouchers_count: count,
        activity_duration_after_publishing: None,
        metadata: Default::default(),
    };
    let project = session.id();
    let created = session.store.create_campaign(project, &spec, Utc::now())?;
    let mut rule_id = None;
    let finish = (|| -> Result<(), Failure> {
        if let Some(min) = min_order {
            let rule = session.store.create_rule(
                project,
                &min_order_rule(&created.id, min.amount(), &min.to_string()),
                Utc::now(),
            )?;
            rule_id = Some(rule.id.clone());
            session.store.assign_rule(
                project,
                &rule.id,
                &AssignmentTarget::Campaign(created.id.clone()),
                Utc::now(),
            )?;
        }
        if let Some(code) = &code {
            let voucher = VoucherSpec {
                code: Some(code.clone()),
                code_config: None,
                campaign: Some(created.id.clone()),
                benefit: None,
                quantity: None,
                validity: Validity::default(),
                activity: Activity::Enabled,
                category: None,
                additional_info: None,
                metadata: Default::default(),
            };
            session
                .store
                .create_voucher(project, &voucher, Utc::now())?;
        } else if count > 0 {
            crate::progress::generate_codes(
                &session.store,
                project,
                &created.id,
                count,
                random_seed()?,
            )?;
        }
        Ok(())
    })();
    if let Err(failure) = finish {
        // Leave nothing half made: the command can be run again as is.
        let _ = session
            .store
            .delete_campaign(project, &created.id, Utc::now());
        if let Some(rule) = &rule_id {
            let _ = session.store.delete_rule(project, rule);
        }
        return Err(failure);
    }
    let record = session.store.campaign(project, &created.id)?;
    output::object(session.format, &campaign_out(&record, &session))
}

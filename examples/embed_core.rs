//! Embedding `voucher-core` in another Rust service, all in memory: a
//! project, a campaign of generated codes with a rule, a validation, a
//! redemption whose transition the caller applies, a refusal, a rollback and
//! a gift card spent in part. The engine decides; keeping the vouchers,
//! counters and ledgers (here plain variables) is the caller's business.
//!
//! Run it with `cargo run --example embed_core`.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rust_decimal::Decimal;
use voucher_core::code_pattern::{Code, CodeConfig, CodePattern};
use voucher_core::decision::{
    self, Candidate, Checkout, Credits, Project, RedemptionStatus, Refusal,
};
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::ledger::{EntryKind, Ledger};
use voucher_core::money::{Currency, Money};
use voucher_core::order::{Customer, Order, OrderItem};
use voucher_core::rules::{RawMessage, RawRule, RawRuleSet, RawRules, RuleSet};
use voucher_core::validity::{parse_time_zone, Moment, Validity};
use voucher_core::value::Value;
use voucher_core::voucher::{
    Activity, Benefit, Campaign, CampaignKind, CampaignLimits, CampaignType, Counters,
    RedemptionQuantity, Voucher,
};

fn main() -> Result<(), Box<dyn Error>> {
    let mut out = String::new();
    let result = run(&mut out);
    print!("{out}");
    result
}

/// The whole walk-through; writes what it does to `out` (the integration
/// test in `tests/it` runs it and checks the figures).
pub fn run(out: &mut String) -> Result<(), Box<dyn Error>> {
    // A project: one currency, and the zone its dates are read in.
    let mut project = Project::new(Currency::EUR);
    project.time_zone = parse_time_zone("Europe/Warsaw")?;
    // The caller's clock, passed in: the engine never reads one.
    let now: DateTime<Utc> = "2025-03-14T11:00:00Z".parse()?;

    // A campaign valid through March, local time, for orders above 50.00.
    let campaign = Campaign {
        name: "Spring sale".to_owned(),
        campaign_type: CampaignType::DiscountCoupons,
        kind: CampaignKind::Static,
        activity: Activity::Enabled,
        validity: Validity {
            start: Some(Moment::parse("2025-03-01")?),
            expiration: Some(Moment::parse("2025-03-31")?),
            ..Validity::default()
        },
        time_zone: None,
        rules: vec![order_amount_above(50, "Spend more than 50.00 EUR")?],
        limits: CampaignLimits::default(),
        categories: Vec::new(),
    };
    let mut counters = Counters::default();

    // Its codes: unique, from a pattern, drawn from a seeded RNG (a service
    // would pass an OS-seeded one; the same seed gives the same codes).
    let pattern = CodePattern::new(&CodeConfig {
        prefix: Some("SPRING-".to_owned()),
        pattern: Some("####-####".to_owned()),
        charset: Some("ABCDEFGHJKLMNPQRSTUVWXYZ23456789".to_owned()),
        ..CodeConfig::default()
    })?;
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let codes = pattern.generate(&mut rng, 2, |_existing| false)?;
    writeln!(out, "campaign {:?}, codes:", campaign.name)?;
    for code in &codes {
        writeln!(out, "  {code}")?;
    }
    let ten_off = Discount::new(
        DiscountValue::Amount {
            amount_off: Money::parse("10.00", Currency::EUR)?,
        },
        Effect::ApplyToOrder,
    )?;
    // Each code may be redeemed once.
    let mut vouchers = codes.into_iter().map(|code| {
        voucher_of(
            code,
            Benefit::Discount(ten_off.clone()),
            RedemptionQuantity::Limited(1),
        )
    });
    let (Some(mut first), Some(second)) = (vouchers.next(), vouchers.next()) else {
        return Err("two codes were asked for".into());
    };
    let voucher = &mut first;

    let customer = Customer {
        source_id: Some("alice@example.com".to_owned()),
        ..Customer::default()
    };
    let order = order_of(&[
        ("beans", 2, "19.90"),
        ("grinder", 1, "24.99"),
        ("filters", 3, "2.45"),
    ])?;

    // Validate: decides, changes nothing.
    let candidate = Candidate {
        voucher,
        campaign: Some(&campaign),
        counters,
    };
    let checkout = Checkout {
        order: &order,
        customer: &customer,
        now,
    };
    let validation = decision::validate(&project, &candidate, &checkout, Credits::WhatIsOwed)
        .map_err(|r| r.to_string())?;
    let discount = validation.outcome.given_minor();
    writeln!(
        out,
        "\nvalidate {}: valid, {} off",
        voucher.code,
        eur(discount)
    )?;

    // Redeem: the same decision plus the transition; the caller applies it
    // (a store does so in one transaction with the redemption record).
    let redemption = decision::redeem(&project, &candidate, &checkout, Credits::WhatIsOwed)
        .map_err(|r| r.to_string())?;
    let transition = redemption.transition;
    voucher.redeemed_quantity = transition.redeemed_quantity_after;
    counters.campaign_redemptions += 1;
    counters.customer_redemptions += 1;
    counters.campaign_given_minor += transition.given_minor;
    let totals = redemption.validation.order.totals();
    writeln!(
        out,
        "redeem {}: redeemed {} time(s)",
        voucher.code, voucher.redeemed_quantity
    )?;
    writeln!(
        out,
        "  amount {}, discount {}, total {}",
        eur(totals.amount_minor),
        eur(totals.total_discount_amount_minor),
        eur(totals.total_amount_minor)
    )?;
    // The order-level discount shared out over the lines, to the cent.
    for line in redemption.validation.order.lines() {
        writeln!(
            out,
            "  {:<8} {:>6}  -{}",
            line.product_id().unwrap_or("?"),
            eur(line.amount_minor()),
            eur(line.order_discount_share_minor())
        )?;
    }

    // The same single-use code again: refused, with a stable reason key.
    let again = Candidate {
        voucher,
        campaign: Some(&campaign),
        counters,
    };
    let refusal = decision::redeem(&project, &again, &checkout, Credits::WhatIsOwed).err();
    describe_refusal(out, "redeem it again", refusal)?;

    // A small order fails the campaign's rule, with the rule's message.
    let small = order_of(&[("filters", 4, "2.45")])?;
    let small_checkout = Checkout {
        order: &small,
        ..checkout
    };
    let other = Candidate {
        voucher: &second,
        campaign: Some(&campaign),
        counters,
    };
    let refusal = decision::validate(&project, &other, &small_checkout, Credits::WhatIsOwed).err();
    describe_refusal(out, "validate on a 9.80 order", refusal)?;

    // Roll the redemption back: the use (and the budget) return.
    let voucher = &mut first;
    let rollback = decision::rollback(voucher, RedemptionStatus::Succeeded, 0, discount)?;
    voucher.redeemed_quantity = rollback.redeemed_quantity_after;
    counters.campaign_redemptions -= 1;
    counters.customer_redemptions -= 1;
    counters.campaign_given_minor -= rollback.returned_minor;
    writeln!(
        out,
        "\nroll back: redeemed {} time(s), {} back in the campaign budget",
        voucher.redeemed_quantity,
        eur(rollback.returned_minor)
    )?;
    let candidate = Candidate {
        voucher,
        campaign: Some(&campaign),
        counters,
    };
    let usable = decision::validate(&project, &candidate, &checkout, Credits::WhatIsOwed).is_ok();
    writeln!(out, "validate {} again: valid = {usable}", voucher.code)?;

    // A gift card of 100.00 pays for a 35.50 order; the rest stays on it.
    let mut ledger = Ledger::new(Currency::EUR);
    let initial = Money::parse("100.00", Currency::EUR)?;
    ledger.append(EntryKind::Addition, initial.to_minor()?)?;
    let mut card = voucher_of(
        "GIFT-ALICE".parse()?,
        Benefit::Gift(ledger),
        RedemptionQuantity::Unlimited,
    );
    let lunch = order_of(&[("lunch", 1, "35.50")])?;
    let gift = Candidate {
        voucher: &card,
        campaign: None,
        counters: Counters::default(),
    };
    let lunch_checkout = Checkout {
        order: &lunch,
        ..checkout
    };
    let redemption = decision::redeem(&project, &gift, &lunch_checkout, Credits::WhatIsOwed)
        .map_err(|r| r.to_string())?;
    if let (Some(entry), Benefit::Gift(ledger)) =
        (redemption.transition.ledger_entry, &mut card.benefit)
    {
        // Append the entry the engine computed; the ledger checks it again.
        let appended = ledger.append(entry.kind, entry.amount_minor)?;
        assert_eq!(appended, entry, "the ledger agrees with the engine");
        card.redeemed_quantity = redemption.transition.redeemed_quantity_after;
        let totals = redemption.validation.order.totals();
        writeln!(
            out,
            "\ngift card {}: order {}, paid by card {}, left to pay {}, balance left {}",
            card.code,
            eur(totals.amount_minor),
            eur(entry.amount_minor),
            eur(totals.total_amount_minor),
            eur(ledger.balance_minor())
        )?;
    }
    Ok(())
}

/// A rule set with one rule: the order amount is above `major` euros.
/// Money in rules is in major units (the HTTP adapter converts the wire's
/// cents).
fn order_amount_above(major: i64, message: &str) -> Result<RuleSet, Box<dyn Error>> {
    let rule = RawRule {
        name: "order.amount".to_owned(),
        conditions: BTreeMap::from([("$more_than".to_owned(), vec![Value::from(major)])]),
        error: Some(RawMessage {
            message: Some(message.to_owned()),
        }),
        ..RawRule::default()
    };
    let raw = RawRuleSet {
        rules: RawRules {
            logic: Some("1".to_owned()),
            rules: BTreeMap::from([("1".to_owned(), rule)]),
        },
        ..RawRuleSet::default()
    };
    Ok(RuleSet::parse(&raw)?)
}

/// An enabled voucher with no dates or rules of its own.
fn voucher_of(code: Code, benefit: Benefit, quantity: RedemptionQuantity) -> Voucher {
    Voucher {
        code,
        benefit,
        activity: Activity::Enabled,
        validity: Validity::default(),
        quantity,
        redeemed_quantity: 0,
        holder_id: None,
        published_at: None,
        active_after_publishing: None,
        rules: Vec::new(),
    }
}

/// An order of `(product, quantity, unit price)` lines.
fn order_of(lines: &[(&str, u64, &str)]) -> Result<Order, Box<dyn Error>> {
    let mut items = Vec::with_capacity(lines.len());
    for &(product, quantity, price) in lines {
        items.push(OrderItem {
            product_id: Some(product.to_owned()),
            quantity: Some(quantity),
            price: Some(Money::parse(price, Currency::EUR)?),
            ..OrderItem::default()
        });
    }
    Ok(Order {
        items,
        ..Order::default()
    })
}

fn describe_refusal(
    out: &mut String,
    what: &str,
    refusal: Option<Refusal>,
) -> Result<(), Box<dyn Error>> {
    match refusal {
        Some(refusal) => writeln!(
            out,
            "\n{what}: refused, reason {} ({}){}",
            refusal.reason.key(),
            refusal.reason.message(),
            refusal
                .rule_message
                .map(|m| format!(", rule says {m:?}"))
                .unwrap_or_default()
        )?,
        None => writeln!(out, "\n{what}: unexpectedly accepted")?,
    }
    Ok(())
}

/// Minor units of EUR as a decimal amount (`1234` is `12.34`).
fn eur(minor: i64) -> Decimal {
    Decimal::new(minor, 2)
}

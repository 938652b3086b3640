//! Campaigns, code generation and vouchers one at a time.

use rust_decimal::Decimal;
use voucher_core::code_pattern::{Code, CodeConfig};
use voucher_core::discount::{Discount, DiscountValue, Effect};
use voucher_core::port::{
    BenefitSpec, CampaignSpec, CampaignStore, GenerationStatus, StoreError, VoucherSpec,
    VoucherStore, VoucherTemplate,
};
use voucher_core::validity::Validity;
use voucher_core::voucher::{
    Activity, CampaignKind, CampaignLimits, CampaignType, RedemptionQuantity,
};

use crate::support::{fixture, t0};

/// 25% off the order.
pub fn percent_off(percent: i64) -> Discount {
    Discount::new(
        DiscountValue::Percent {
            percent_off: Decimal::from(percent),
            amount_limit: None,
        },
        Effect::ApplyToOrder,
    )
    .unwrap()
}

/// A campaign of `count` codes `prefix` + 8 characters, single use.
pub fn campaign_spec(name: &str, prefix: &str, count: u64, benefit: BenefitSpec) -> CampaignSpec {
    let campaign_type = match benefit {
        BenefitSpec::Discount(_) => CampaignType::DiscountCoupons,
        BenefitSpec::Gift { .. } => CampaignType::GiftVouchers,
    };
    CampaignSpec {
        name: name.to_owned(),
        description: None,
        campaign_type,
        kind: CampaignKind::Static,
        activity: Activity::Enabled,
        validity: Validity::default(),
        time_zone: None,
        limits: CampaignLimits::default(),
        categories: Vec::new(),
        template: VoucherTemplate {
            benefit,
            quantity: RedemptionQuantity::Limited(1),
            code_config: CodeConfig {
                prefix: Some(prefix.to_owned()),
                length: Some(8),
                ..CodeConfig::default()
            },
        },
        vouchers_count: count,
        activity_duration_after_publishing: None,
        metadata: Default::default(),
    }
}

/// A standalone voucher spec with a known code.
pub fn voucher_spec(code: &str, benefit: BenefitSpec, quantity: RedemptionQuantity) -> VoucherSpec {
    VoucherSpec {
        code: Some(Code::parse(code).unwrap()),
        code_config: None,
        campaign: None,
        benefit: Some(benefit),
        quantity: Some(quantity),
        validity: Validity::default(),
        activity: Activity::Enabled,
        category: None,
        additional_info: None,
        metadata: Default::default(),
    }
}

#[test]
fn a_campaign_generates_its_unique_codes() {
    let f = fixture();
    let spec = campaign_spec(
        "Spring",
        "CAT-",
        200,
        BenefitSpec::Discount(percent_off(25)),
    );
    let created = f.store.create_campaign(f.project, &spec, t0()).unwrap();
    assert_eq!(created.generation, GenerationStatus::InProgress);
    assert!(created.id.starts_with("camp_"));
    let made = f
        .store
        .generate_codes(f.project, &created.id, 200, 7, t0())
        .unwrap();
    assert_eq!(made, 200);
    let campaign = f.store.campaign(f.project, "Spring").unwrap();
    assert_eq!(
        (campaign.codes_count, campaign.generation),
        (200, GenerationStatus::Done)
    );
    assert!(matches!(
        f.store.create_campaign(f.project, &spec, t0()),
        Err(StoreError::Duplicate { .. })
    ));
}

#[test]
fn a_pattern_too_small_for_its_count_is_refused() {
    let f = fixture();
    let mut spec = campaign_spec("Tiny", "T-", 200, BenefitSpec::Discount(percent_off(10)));
    spec.template.code_config = CodeConfig {
        pattern: Some("##".to_owned()),
        charset: Some("0123456789".to_owned()),
        ..CodeConfig::default()
    };
    let err = f.store.create_campaign(f.project, &spec, t0()).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Invalid {
                key: "invalid_code_config",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn vouchers_are_created_read_and_disabled() {
    let f = fixture();
    let spec = voucher_spec(
        "FEEDMEHUMAN",
        BenefitSpec::Discount(percent_off(25)),
        RedemptionQuantity::Unlimited,
    );
    let created = f.store.create_voucher(f.project, &spec, t0()).unwrap();
    assert_eq!(
        f.store.voucher(f.project, "FEEDMEHUMAN").unwrap().id,
        created.id
    );
    assert_eq!(
        f.store
            .voucher(f.project, &created.id)
            .unwrap()
            .code
            .as_str(),
        "FEEDMEHUMAN"
    );
    assert!(matches!(
        f.store.voucher(f.project, "feedmehuman"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        f.store.create_voucher(f.project, &spec, t0()),
        Err(StoreError::Duplicate { .. })
    ));
    let disabled = f
        .store
        .set_voucher_active(f.project, "FEEDMEHUMAN", false, "test", t0())
        .unwrap();
    assert_eq!(disabled.activity, Activity::Disabled);
    let random = f
        .store
        .create_voucher(f.project, &VoucherSpec { code: None, ..spec }, t0())
        .unwrap();
    assert_eq!(random.code.as_str().len(), 8);
    let gift = voucher_spec(
        "GIFT-1",
        BenefitSpec::Gift { amount_minor: 5000 },
        RedemptionQuantity::Unlimited,
    );
    let gift = f.store.create_voucher(f.project, &gift, t0()).unwrap();
    assert_eq!(gift.gift_balance_minor, Some(5000));
}

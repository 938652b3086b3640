//! Publishing codes to customers, and the publication list.

use voucher_core::code_pattern::CodeConfig;
use voucher_core::money::Currency;
use voucher_core::port::{
    BenefitSpec, CampaignStore, CustomerSpec, JoinOnce, ListQuery, ProjectSpec, ProjectStore,
    PublicationQuery, PublicationRecord, PublicationSpec, PublicationStore, PublicationTarget,
    StoreError, VoucherStore,
};
use voucher_core::stacking::StackingRules;
use voucher_core::voucher::{CampaignKind, RedemptionQuantity};

use crate::catalog::{campaign_spec, percent_off, voucher_spec};
use crate::support::{fixture, t0, Fixture};

fn customer(source_id: &str) -> CustomerSpec {
    CustomerSpec {
        source_id: Some(source_id.to_owned()),
        ..CustomerSpec::default()
    }
}

fn from_campaign(campaign: &str, count: u32, who: &str) -> PublicationSpec {
    PublicationSpec {
        target: PublicationTarget::Campaign {
            campaign: campaign.to_owned(),
            count,
        },
        customer: customer(who),
        channel: String::new(),
        source_id: None,
        metadata: Default::default(),
        join_once: JoinOnce::No,
    }
}

fn codes(publication: &PublicationRecord) -> Vec<String> {
    publication
        .vouchers
        .iter()
        .map(|v| v.code.as_str().to_owned())
        .collect()
}

/// A STATIC campaign of `count` generated codes.
fn static_campaign(f: &Fixture, name: &str, count: u64) {
    let created = f
        .store
        .create_campaign(
            f.project,
            &campaign_spec(name, "S-", count, BenefitSpec::Discount(percent_off(10))),
            t0(),
        )
        .unwrap();
    f.store
        .generate_codes(f.project, &created.id, count, 9, t0())
        .unwrap();
}

fn invalid_key(result: Result<PublicationRecord, StoreError>) -> &'static str {
    match result {
        Err(StoreError::Invalid { key, .. }) => key,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_campaign_hands_out_free_codes_and_join_once_gives_the_same_ones() {
    let f = fixture();
    static_campaign(&f, "Spring", 5);
    let first = f
        .store
        .publish(f.project, &from_campaign("Spring", 2, "tom"), t0())
        .unwrap();
    assert!(first.id.starts_with("pub_"), "{}", first.id);
    assert_eq!(first.channel, "API");
    assert_eq!(first.vouchers.len(), 2);
    let (tom, tom_source) = first.customer.clone();
    assert_eq!(tom_source.as_deref(), Some("tom"));
    for voucher in &first.vouchers {
        assert_eq!(voucher.holder_id.as_deref(), Some(tom.as_str()));
        assert_eq!(voucher.published_at, Some(t0()));
        assert_eq!(voucher.publish_count, 1);
    }
    // join_once: the codes Tom holds, again.
    let again = f
        .store
        .publish(
            f.project,
            &PublicationSpec {
                join_once: JoinOnce::Yes,
                ..from_campaign("Spring", 2, "tom")
            },
            t0(),
        )
        .unwrap();
    assert_ne!(again.id, first.id);
    assert_eq!(codes(&again), codes(&first));
    assert!(again.vouchers.iter().all(|v| v.publish_count == 2));
    // Without it: new codes, never someone else's.
    let more = f
        .store
        .publish(f.project, &from_campaign("Spring", 2, "tom"), t0())
        .unwrap();
    assert!(codes(&more).iter().all(|c| !codes(&first).contains(c)));
    let ann = f
        .store
        .publish(f.project, &from_campaign("Spring", 1, "ann"), t0())
        .unwrap();
    assert_eq!(ann.vouchers.len(), 1);
    assert_ne!(ann.customer.0, tom);
    // All five handed out: a STATIC campaign has none left.
    assert_eq!(
        invalid_key(
            f.store
                .publish(f.project, &from_campaign("Spring", 1, "bob"), t0())
        ),
        "no_voucher_suitable_for_publication"
    );
}

#[test]
fn a_code_goes_to_one_holder_only() {
    let f = fixture();
    let spec = voucher_spec(
        "GIFT-FOR-TOM",
        BenefitSpec::Gift { amount_minor: 5000 },
        RedemptionQuantity::Unlimited,
    );
    f.store.create_voucher(f.project, &spec, t0()).unwrap();
    let publish = |who: &str| {
        f.store.publish(
            f.project,
            &PublicationSpec {
                target: PublicationTarget::Voucher("GIFT-FOR-TOM".to_owned()),
                channel: "email".to_owned(),
                ..from_campaign("", 1, who)
            },
            t0(),
        )
    };
    let first = publish("tom").unwrap();
    assert_eq!(first.channel, "email");
    assert_eq!(codes(&first), ["GIFT-FOR-TOM"]);
    // The same customer again: fine, counted.
    assert_eq!(publish("tom").unwrap().vouchers[0].publish_count, 2);
    assert_eq!(invalid_key(publish("ann")), "voucher_already_published");
    let voucher = f.store.voucher(f.project, "GIFT-FOR-TOM").unwrap();
    assert_eq!(voucher.holder_id, Some(first.customer.0));
    assert!(matches!(
        f.store.publish(
            f.project,
            &PublicationSpec {
                target: PublicationTarget::Voucher("NOPE".to_owned()),
                ..from_campaign("", 1, "tom")
            },
            t0(),
        ),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn a_source_id_replays_the_same_request_and_refuses_another() {
    let f = fixture();
    static_campaign(&f, "Spring", 5);
    let spec = PublicationSpec {
        source_id: Some("crm-42".to_owned()),
        ..from_campaign("Spring", 1, "tom")
    };
    let first = f.store.publish(f.project, &spec, t0()).unwrap();
    let replay = f.store.publish(f.project, &spec, t0()).unwrap();
    assert_eq!(replay, first);
    assert_eq!(
        replay.vouchers[0].publish_count, 1,
        "a replay changes nothing"
    );
    let other_request = PublicationSpec {
        customer: customer("ann"),
        ..spec.clone()
    };
    assert!(matches!(
        f.store.publish(f.project, &other_request, t0()),
        Err(StoreError::Duplicate {
            resource: "publication",
            ..
        })
    ));
    assert_eq!(
        invalid_key(f.store.publish(
            f.project,
            &PublicationSpec {
                source_id: Some("crm-43".to_owned()),
                ..from_campaign("Spring", 2, "tom")
            },
            t0(),
        )),
        "too_many_vouchers_requested"
    );
    for count in [0, 51] {
        assert_eq!(
            invalid_key(
                f.store
                    .publish(f.project, &from_campaign("Spring", count, "tom"), t0())
            ),
            "invalid_payload"
        );
    }
    assert_eq!(
        invalid_key(f.store.publish(
            f.project,
            &PublicationSpec {
                customer: CustomerSpec::default(),
                ..from_campaign("Spring", 1, "tom")
            },
            t0(),
        )),
        "missing_customer"
    );
}

#[test]
fn an_auto_update_campaign_generates_the_codes_it_lacks() {
    let f = fixture();
    let mut spec = campaign_spec("Welcome", "W-", 0, BenefitSpec::Discount(percent_off(15)));
    spec.kind = CampaignKind::AutoUpdate;
    spec.template.code_config = CodeConfig {
        pattern: Some("WELCOME-####".to_owned()),
        ..CodeConfig::default()
    };
    f.store.create_campaign(f.project, &spec, t0()).unwrap();
    let published = f
        .store
        .publish(f.project, &from_campaign("Welcome", 3, "tom"), t0())
        .unwrap();
    assert_eq!(published.vouchers.len(), 3);
    for voucher in &published.vouchers {
        assert!(
            voucher.code.as_str().starts_with("WELCOME-"),
            "{:?}",
            voucher.code
        );
        assert_eq!(voucher.code.as_str().len(), 12);
        assert_eq!(voucher.benefit, BenefitSpec::Discount(percent_off(15)));
        assert_eq!(
            voucher.holder_id.as_deref(),
            Some(published.customer.0.as_str())
        );
    }
    assert_eq!(
        f.store.campaign(f.project, "Welcome").unwrap().codes_count,
        3
    );
}

#[test]
fn publications_list_with_filters_and_paging() {
    let f = fixture();
    static_campaign(&f, "Spring", 6);
    static_campaign(&f, "Summer", 6);
    let at = |minutes: i64| t0() + chrono::Duration::minutes(minutes);
    let mut made = Vec::new();
    for (i, (campaign, who)) in [
        ("Spring", "tom"),
        ("Spring", "ann"),
        ("Summer", "tom"),
        ("Spring", "tom"),
        ("Summer", "bob"),
    ]
    .into_iter()
    .enumerate()
    {
        let publication = f
            .store
            .publish(f.project, &from_campaign(campaign, 1, who), at(i as i64))
            .unwrap();
        made.push(publication);
    }
    let list = |query: PublicationQuery| f.store.publications(f.project, &query).unwrap();
    let ids = |page: &voucher_core::port::Page<PublicationRecord>| {
        page.items.iter().map(|p| p.id.clone()).collect::<Vec<_>>()
    };
    let all = list(PublicationQuery::default());
    assert_eq!(all.total, 5);
    assert_eq!(
        ids(&all),
        made.iter().rev().map(|p| p.id.clone()).collect::<Vec<_>>()
    );
    let spring = list(PublicationQuery {
        campaign: Some("Spring".to_owned()),
        ..PublicationQuery::default()
    });
    assert_eq!(
        ids(&spring),
        [made[3].id.as_str(), &made[1].id, &made[0].id]
    );
    let tom = list(PublicationQuery {
        customer: Some("tom".to_owned()),
        ..PublicationQuery::default()
    });
    assert_eq!(ids(&tom), [made[3].id.as_str(), &made[2].id, &made[0].id]);
    let by_code = list(PublicationQuery {
        code: Some(made[2].vouchers[0].code.as_str().to_owned()),
        ..PublicationQuery::default()
    });
    assert_eq!(ids(&by_code), [made[2].id.as_str()]);
    let unknown = list(PublicationQuery {
        campaign: Some("Nope".to_owned()),
        ..PublicationQuery::default()
    });
    assert_eq!(unknown.total, 0);
    // Cursor paging walks the list without repeats.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list(PublicationQuery {
            list: ListQuery {
                limit: 2,
                starting_after: cursor.clone(),
                ..ListQuery::default()
            },
            ..PublicationQuery::default()
        });
        assert_eq!(page.total, 5);
        seen.extend(ids(&page));
        if !page.has_more {
            break;
        }
        cursor = page.next_cursor.clone();
    }
    assert_eq!(seen, ids(&all));
    // Another project sees none of them.
    let other = f
        .store
        .create_project(
            &ProjectSpec {
                name: "other".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: StackingRules::default(),
            },
            t0(),
        )
        .unwrap()
        .id;
    assert_eq!(
        f.store
            .publications(other, &PublicationQuery::default())
            .unwrap()
            .total,
        0
    );
    assert!(matches!(
        f.store
            .publish(other, &from_campaign("Spring", 1, "tom"), t0()),
        Err(StoreError::NotFound { .. })
    ));
}

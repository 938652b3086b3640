//! Idempotency records: a replay returns the stored answer byte for byte,
//! another body with the same key is refused, a key in flight is refused,
//! a released key can be used again, and keys are scoped to the endpoint
//! and the project.

use chrono::Duration;
use voucher_core::money::Currency;
use voucher_core::port::{
    Claim, IdempotencyKey, IdempotencyStore, ProjectSpec, ProjectStore, StoreError, StoredResponse,
};
use voucher_core::stacking::StackingRules;

use crate::support::{fixture, t0};

fn key(key: &str, method: &str, path: &str) -> IdempotencyKey {
    IdempotencyKey {
        key: key.to_owned(),
        method: method.to_owned(),
        path: path.to_owned(),
    }
}

const REDEEM: (&str, &str) = ("POST", "/v1/redemptions");

#[test]
fn a_replay_returns_the_stored_answer_and_another_body_is_refused() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    let k = key("k-1", REDEEM.0, REDEEM.1);
    let body = [0x7b, 0x00, 0xff, 0x22, 0x7d];
    assert_eq!(s.claim(p, &k, &[1; 32], t0()), Ok(Claim::Fresh));
    // In flight: a retry with the same body waits, another body is reused.
    assert_eq!(
        s.claim(p, &k, &[1; 32], t0()),
        Err(StoreError::IdempotencyInFlight)
    );
    assert_eq!(
        s.claim(p, &k, &[2; 32], t0()),
        Err(StoreError::IdempotencyKeyReused)
    );
    let answer = StoredResponse {
        status: 400,
        body: body.to_vec(),
    };
    s.complete(p, &k, &answer).unwrap();
    for _ in 0..2 {
        assert_eq!(
            s.claim(p, &k, &[1; 32], t0() + Duration::days(2)),
            Ok(Claim::Replay(answer.clone()))
        );
    }
    assert_eq!(
        s.claim(p, &k, &[2; 32], t0()),
        Err(StoreError::IdempotencyKeyReused)
    );
    // Completing twice, or a key never claimed, is the caller's bug.
    assert!(matches!(
        s.complete(p, &k, &answer),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.complete(p, &key("never", REDEEM.0, REDEEM.1), &answer),
        Err(StoreError::NotFound { .. })
    ));
    // Releasing a completed key keeps its answer.
    s.release(p, &k).unwrap();
    assert_eq!(s.claim(p, &k, &[1; 32], t0()), Ok(Claim::Replay(answer)));
}

#[test]
fn a_released_key_may_be_used_again() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    let k = key("k-2", REDEEM.0, REDEEM.1);
    assert_eq!(s.claim(p, &k, &[1; 32], t0()), Ok(Claim::Fresh));
    s.release(p, &k).unwrap();
    assert_eq!(s.claim(p, &k, &[9; 32], t0()), Ok(Claim::Fresh));
    let answer = StoredResponse {
        status: 200,
        body: b"{\"ok\":true}".to_vec(),
    };
    s.complete(p, &k, &answer).unwrap();
    assert_eq!(s.claim(p, &k, &[9; 32], t0()), Ok(Claim::Replay(answer)));
}

#[test]
fn a_claim_whose_process_died_is_taken_over_after_a_while() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    let k = key("k-3", REDEEM.0, REDEEM.1);
    assert_eq!(s.claim(p, &k, &[1; 32], t0()), Ok(Claim::Fresh));
    assert_eq!(
        s.claim(p, &k, &[1; 32], t0() + Duration::minutes(9)),
        Err(StoreError::IdempotencyInFlight)
    );
    assert_eq!(
        s.claim(p, &k, &[1; 32], t0() + Duration::minutes(10)),
        Ok(Claim::Fresh)
    );
    assert_eq!(
        s.claim(p, &k, &[1; 32], t0() + Duration::minutes(11)),
        Err(StoreError::IdempotencyInFlight)
    );
}

#[test]
fn keys_are_scoped_to_the_endpoint_and_the_project() {
    let f = fixture();
    let (s, p) = (&f.store, f.project);
    let other = s
        .create_project(
            &ProjectSpec {
                name: "sandbox".to_owned(),
                currency: Currency::EUR,
                time_zone: chrono_tz::Tz::UTC,
                stacking: StackingRules::default(),
            },
            t0(),
        )
        .unwrap()
        .id;
    let answer = StoredResponse {
        status: 200,
        body: b"first".to_vec(),
    };
    let first = key("same", REDEEM.0, REDEEM.1);
    assert_eq!(s.claim(p, &first, &[1; 32], t0()), Ok(Claim::Fresh));
    s.complete(p, &first, &answer).unwrap();
    let elsewhere = [
        (p, key("same", "POST", "/v1/vouchers/CODE/redemption")),
        (p, key("same", "PUT", REDEEM.1)),
        (other, key("same", REDEEM.0, REDEEM.1)),
    ];
    for (project, k) in &elsewhere {
        assert_eq!(
            s.claim(*project, k, &[2; 32], t0()),
            Ok(Claim::Fresh),
            "{k:?}"
        );
    }
    assert_eq!(
        s.claim(p, &first, &[1; 32], t0()),
        Ok(Claim::Replay(answer))
    );
    // Bounded keys.
    assert!(matches!(
        s.claim(
            p,
            &key(&"k".repeat(256), REDEEM.0, REDEEM.1),
            &[1; 32],
            t0()
        ),
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        s.claim(p, &key("", REDEEM.0, REDEEM.1), &[1; 32], t0()),
        Err(StoreError::Invalid { .. })
    ));
}

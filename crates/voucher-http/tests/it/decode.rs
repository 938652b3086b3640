//! The pure request decoders of validation and redemption
//! (`decode_validation`, `decode_redemption`), which the fuzz targets
//! drive: they answer what the endpoints answer before the store is asked.

use chrono::{DateTime, Utc};
use voucher_core::money::{Currency, Money};
use voucher_core::port::CheckoutMode;
use voucher_http::routes::redemptions::decode_redemption;
use voucher_http::routes::validations::decode_validation;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap()
}

#[test]
fn a_legacy_validation_names_its_path_code() {
    let body = br#"{"gift":{"credits":"250"},"order":{"amount":1000,"items":[{"product_id":"p1","quantity":"2","price":500}]}}"#;
    let request = decode_validation(body, Some("GIFT-1"), Currency::EUR, now()).unwrap();
    assert_eq!(request.mode, CheckoutMode::Legacy);
    assert_eq!(request.redeemables.len(), 1);
    assert_eq!(request.redeemables[0].code, "GIFT-1");
    assert_eq!(
        request.redeemables[0].credits,
        Some(Money::from_minor(250, Currency::EUR).unwrap())
    );
    assert_eq!(
        request.order.amount,
        Some(Money::from_minor(1000, Currency::EUR).unwrap())
    );
    assert_eq!(request.order.items[0].quantity, Some(2));
    assert_eq!(request.now, now());
    // An empty body is `{}`: an order without amount or lines.
    let empty = decode_validation(b"", Some("X"), Currency::EUR, now()).unwrap();
    assert!(empty.order.items.is_empty() && empty.order.amount.is_none());
}

#[test]
fn decoding_errors_are_the_endpoints_4xx() {
    let check = |result: Result<_, voucher_http::ApiError>, key: &str| {
        let error = result.unwrap_err();
        assert_eq!((error.status.as_u16(), error.key.as_str()), (400, key));
    };
    let eur = Currency::EUR;
    check(decode_validation(b"{", None, eur, now()), "invalid_payload");
    check(
        decode_validation(b"{}", None, eur, now()),
        "invalid_payload",
    );
    check(
        decode_validation(
            br#"{"redeemables":[{"object":"campaign","id":"C"}]}"#,
            None,
            eur,
            now(),
        ),
        "invalid_redeemables",
    );
    check(
        decode_validation(
            br#"{"order":{"items":[{"quantity":-1}]}}"#,
            Some("A"),
            eur,
            now(),
        ),
        "invalid_order",
    );
    check(
        decode_validation(
            br#"{"order":{"amount":150}}"#,
            Some("A"),
            Currency::JPY,
            now(),
        ),
        "invalid_amount",
    );
    check(
        decode_redemption(
            b"{}",
            Some("A"),
            "tracking_id[a][b][c][d][e][f]=1",
            eur,
            now(),
        ),
        "invalid_query_params",
    );
}

#[test]
fn a_legacy_redemption_takes_the_tracking_id_of_its_query_unless_the_body_has_one() {
    let eur = Currency::EUR;
    let from_query = decode_redemption(b"{}", Some("A"), "tracking_id=q-1", eur, now()).unwrap();
    assert_eq!(from_query.tracking_id.as_deref(), Some("q-1"));
    let body = br#"{"tracking_id":"b-1"}"#;
    let from_body = decode_redemption(body, Some("A"), "tracking_id=q-1", eur, now()).unwrap();
    assert_eq!(from_body.tracking_id.as_deref(), Some("b-1"));
    // The stacked redemption reads no query.
    let stacked = br#"{"redeemables":[{"id":"A"},{"id":"B","gift":{"credits":5}}]}"#;
    let request = decode_redemption(stacked, None, "tracking_id=q-1", eur, now()).unwrap();
    assert_eq!(request.mode, CheckoutMode::Stacked);
    assert_eq!(request.tracking_id, None);
    assert_eq!(request.redeemables.len(), 2);
}

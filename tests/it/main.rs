//! Integration tests of the root package: the example of embedding the
//! engine runs and prints the figures its README promises, and the official
//! SDKs drive the real server (`sdk`).

// The example is compiled into this test as a module, so that its whole
// walk-through runs here; its `main` is only used by `cargo run`.
#[allow(dead_code)]
#[path = "../../examples/embed_core.rs"]
mod embed_core;

mod cli;
mod sdk;

/// Runs the example and checks that each expected line is in its output.
fn check(expected: &[&str]) {
    let mut out = String::new();
    if let Err(e) = embed_core::run(&mut out) {
        panic!("the example failed: {e}\n{out}");
    }
    for line in expected {
        assert!(
            out.lines().any(|l| l == *line),
            "missing line {line:?} in:\n{out}"
        );
    }
}

#[test]
fn embed_core_example_decides_as_documented() {
    check(&[
        // Seeded generation: the same codes every run.
        "  SPRING-B573-X9SQ",
        "  SPRING-JT3F-G9FV",
        "validate SPRING-B573-X9SQ: valid, 10.00 off",
        "redeem SPRING-B573-X9SQ: redeemed 1 time(s)",
        "  amount 72.14, discount 10.00, total 62.14",
        // 10.00 over 39.80, 24.99 and 7.35: shares 5.517, 3.464, 1.019
        // rounded down, the two cents left go to the largest remainders.
        "  beans     39.80  -5.52",
        "  grinder   24.99  -3.46",
        "  filters    7.35  -1.02",
        "redeem it again: refused, reason quantity_exceeded (quantity exceeded)",
        "validate on a 9.80 order: refused, reason order_rules_violated \
         (order does not match validation rules), rule says \"Spend more than 50.00 EUR\"",
        "roll back: redeemed 0 time(s), 10.00 back in the campaign budget",
        "validate SPRING-B573-X9SQ again: valid = true",
        "gift card GIFT-ALICE: order 35.50, paid by card 35.50, left to pay 0.00, \
         balance left 64.50",
    ]);
}

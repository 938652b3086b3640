//! The code pattern parser and generator (`voucher_core::code_pattern`).
//!
//! An arbitrary `code_config` is checked by `CodePattern::new`; when it is
//! accepted, its stored form gives the same pattern back, and codes drawn
//! from a seeded ChaCha RNG each fit the pattern: the prefix, the
//! pattern's literal characters and the postfix where they belong, a
//! charset character at each `#`, the announced length, distinct, and
//! parseable as imported codes. `matches` and `Code::parse` never panic on
//! arbitrary text.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use voucher_core::code_pattern::{
    Code, CodeConfig, CodeConfigError, CodePattern, CODE_CHARSET_DEFAULT, CODE_LENGTH_DEFAULT,
    PLACEHOLDER,
};
use voucher_core::limits::CODE_LENGTH_MAX;

#[derive(Debug, Arbitrary)]
struct Input {
    length: Option<u16>,
    charset: Option<String>,
    prefix: Option<String>,
    postfix: Option<String>,
    pattern: Option<String>,
    /// Codes to generate (a few: the property is per code).
    count: u8,
    /// Codes the campaign already holds, for the capacity check.
    existing: u32,
    seed: u64,
    /// Text for `matches` and `Code::parse`.
    probe: String,
}

/// The template a code must follow, built from the config alone (not from
/// the pattern's own parse): `(literal character, is a placeholder)`.
fn template(config: &CodeConfig) -> Vec<(char, bool)> {
    let prefix = config.prefix.as_deref().unwrap_or("");
    let postfix = config.postfix.as_deref().unwrap_or("");
    let shape = match &config.pattern {
        Some(pattern) => pattern.clone(),
        None => PLACEHOLDER
            .to_string()
            .repeat(config.length.unwrap_or(CODE_LENGTH_DEFAULT)),
    };
    prefix
        .chars()
        .map(|ch| (ch, false))
        .chain(shape.chars().map(|ch| (ch, ch == PLACEHOLDER)))
        .chain(postfix.chars().map(|ch| (ch, false)))
        .collect()
}

fn fits(config: &CodeConfig, template: &[(char, bool)], code: &str) -> bool {
    let charset = config.charset.as_deref().unwrap_or(CODE_CHARSET_DEFAULT);
    code.chars().count() == template.len()
        && code.chars().zip(template).all(|(ch, &(expected, random))| {
            if random {
                charset.contains(ch)
            } else {
                ch == expected
            }
        })
}

fuzz_target!(|input: Input| {
    let config = CodeConfig {
        length: input.length.map(usize::from),
        charset: input.charset,
        prefix: input.prefix,
        postfix: input.postfix,
        pattern: input.pattern,
    };
    // Never panics on any text.
    let _ = Code::parse(&input.probe);

    let pattern = match CodePattern::new(&config) {
        Ok(pattern) => pattern,
        Err(_) => return,
    };
    let _ = pattern.matches(&input.probe);

    // The stored form gives the same pattern back.
    let stored = pattern.config();
    let again = CodePattern::new(&stored).expect("the stored form of a pattern is accepted");
    assert_eq!(again, pattern);

    let template = template(&config);
    assert!(template.len() <= CODE_LENGTH_MAX);
    assert_eq!(pattern.code_len(), template.len());
    assert_eq!(
        pattern.random_count(),
        template.iter().filter(|(_, random)| *random).count()
    );

    let mut rng = ChaCha8Rng::seed_from_u64(input.seed);
    let one = pattern.generate_one(&mut rng);
    assert!(fits(&config, &template, one.as_str()), "{one:?} {config:?}");
    assert!(pattern.matches(one.as_str()));

    let count = u64::from(input.count % 16);
    let existing = u64::from(input.existing);
    let capacity = pattern.check_capacity(existing, count);
    let generated = pattern.generate(&mut rng, count, |code| code == one.as_str());
    match generated {
        Ok(codes) => {
            assert_eq!(codes.len() as u64, count);
            let distinct: BTreeSet<&str> = codes.iter().map(Code::as_str).collect();
            assert_eq!(distinct.len(), codes.len(), "codes repeat");
            for code in &codes {
                assert!(
                    fits(&config, &template, code.as_str()),
                    "{code:?} does not fit {config:?}"
                );
                assert!(pattern.matches(code.as_str()));
                assert_ne!(code.as_str(), one.as_str(), "a taken code came back");
                assert_eq!(Code::parse(code.as_str()).as_ref(), Ok(code));
            }
        }
        // The space of this pattern is too small for `count` codes: then
        // the capacity check with none existing refuses too.
        Err(CodeConfigError::CodeSpaceTooSmall { .. }) => {
            assert!(pattern.check_capacity(0, count).is_err());
        }
        Err(error) => panic!("generation failed: {error}"),
    }
    if capacity.is_ok() {
        assert!(pattern.check_capacity(0, count).is_ok());
    }
});

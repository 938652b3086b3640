//! How values are written to and read from columns: instants as Unix
//! milliseconds, the core's types as JSON, new external ids with their wire
//! prefixes. Everything read back is checked: a value that does not decode
//! is [`StoreError::Corrupt`], never a panic.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use serde::de::DeserializeOwned;
use serde::Serialize;
use voucher_core::port::StoreError;

/// An instant as Unix milliseconds.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Unix milliseconds as an instant.
pub(crate) fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} out of range")))
}

/// An optional instant as Unix milliseconds.
pub(crate) fn opt_from_ms(ms: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    ms.map(from_ms).transpose()
}

/// Bytes reserved for a JSON text: a redemption's voucher snapshot (the
/// largest text it writes) fits, where `serde_json::to_string`'s buffer
/// started at 128 bytes and grew (and copied) three or four times.
const JSON_CAPACITY: usize = 1024;

/// A value as JSON text.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    let mut text = Vec::with_capacity(JSON_CAPACITY);
    serde_json::to_writer(&mut text, value)
        .map_err(|e| StoreError::Io(format!("encoding JSON: {e}")))?;
    String::from_utf8(text).map_err(|e| StoreError::Io(format!("encoding JSON: {e}")))
}

/// JSON text as a value; a column that does not decode is corrupt.
pub(crate) fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("decoding JSON: {e}")))
}

/// Decoded values of one type, by their exact text. The texts are hashed
/// with foldhash: SipHash over a campaign's spec cost a redemption more
/// than the lookup saved in part (the map holds at most [`DECODED_MAX`]
/// texts, so there is no flooding to fear).
type Decoded = HashMap<Box<str>, Box<dyn Any>, foldhash::fast::RandomState>;

thread_local! {
    /// What [`from_json_cached`] decoded on this thread, by type.
    static DECODED: RefCell<HashMap<TypeId, Decoded, foldhash::fast::RandomState>> =
        RefCell::new(HashMap::default());
}

/// Texts of one type [`from_json_cached`] keeps per thread; past it, it
/// starts again from none.
const DECODED_MAX: usize = 64;

/// Like [`from_json`], for the specs every redemption reads (a campaign's
/// spec, its codes' discount, rule sets, a project's stacking): a copy of
/// what this thread last decoded from the same text. They change rarely,
/// and decoding them cost more than the SQL that reads them. The text is
/// still read in each transaction, so nothing returned is stale: a changed
/// text is decoded anew.
pub(crate) fn from_json_cached<T>(text: &str) -> Result<T, StoreError>
where
    T: DeserializeOwned + Clone + 'static,
{
    let hit = DECODED.with(|decoded| {
        decoded
            .borrow()
            .get(&TypeId::of::<T>())
            .and_then(|texts| texts.get(text))
            .and_then(|value| value.downcast_ref::<T>())
            .cloned()
    });
    if let Some(value) = hit {
        return Ok(value);
    }
    let value: T = from_json(text)?;
    DECODED.with(|decoded| {
        let mut decoded = decoded.borrow_mut();
        let texts = decoded.entry(TypeId::of::<T>()).or_default();
        if texts.len() >= DECODED_MAX {
            texts.clear();
        }
        texts.insert(text.into(), Box::new(value.clone()));
    });
    Ok(value)
}

/// A non-negative count column as `u64`.
pub(crate) fn count(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

/// A `u64` as a column value.
pub(crate) fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid {
        key: "invalid_payload",
        message: format!("number {n} is too large"),
    })
}

thread_local! {
    static ID_RNG: RefCell<ChaCha12Rng> = RefCell::new(os_seeded());
}

/// A generator seeded from the operating system (adapters may use OS
/// randomness; the core may not).
pub(crate) fn os_seeded() -> ChaCha12Rng {
    let mut seed = [0u8; 32];
    if getrandom::fill(&mut seed).is_err() {
        // No OS randomness at all: fall back to the clock and the thread so
        // ids still differ; they only need to be unique, not secret.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        seed[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    ChaCha12Rng::from_seed(seed)
}

/// A new external id: the prefix, 11 hex digits of the Unix time in
/// milliseconds and 16 random hex digits (`v_19ab3c4d5e6f0a1b2c3d4e5f6a7`).
/// Ids are unique, not secret; leading with the time makes ids made
/// together sort together, so a million new codes append to the id index
/// instead of scattering over it (random keys made bulk inserts several
/// times slower). 64 random bits keep a collision among the ~100 ids a
/// bulk insert makes per millisecond below one in 10^15 per millisecond.
pub(crate) fn new_id(prefix: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let random: u64 = ID_RNG.with(|rng| rng.borrow_mut().random());
    format!("{prefix}{:011x}{random:016x}", millis & 0xfff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_differ() {
        let a = new_id("v_");
        let b = new_id("v_");
        assert!(a.starts_with("v_") && a.len() == 29, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn cached_decoding_follows_the_text() {
        let a: Vec<u32> = from_json_cached("[1,2]").unwrap();
        let b: Vec<u32> = from_json_cached("[1,2]").unwrap();
        let c: Vec<u32> = from_json_cached("[1,3]").unwrap();
        let d: Vec<String> = from_json_cached(r#"["x"]"#).unwrap();
        assert_eq!(
            (a, b, c, d),
            (vec![1, 2], vec![1, 2], vec![1, 3], vec!["x".to_owned()])
        );
        for i in 0..DECODED_MAX * 2 {
            let v: Vec<usize> = from_json_cached(&format!("[{i}]")).unwrap();
            assert_eq!(v, [i]);
        }
        assert!(matches!(
            from_json_cached::<Vec<u32>>("[1,"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn bad_columns_are_corrupt_not_panics() {
        assert!(matches!(from_ms(i64::MAX), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            from_json::<Vec<u8>>("{"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(count(-1), Err(StoreError::Corrupt(_))));
    }
}

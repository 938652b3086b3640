//! Mapping SQLite's errors to the port's [`StoreError`]: a full disk, a
//! corrupt file and a busy database each get their own variant, so that the
//! operator sees what happened and the HTTP layer answers accordingly.

use rusqlite::ErrorCode;
use voucher_core::port::StoreError;

/// Maps a rusqlite error.
pub(crate) fn map(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::DiskFull,
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt(e.to_string())
        }
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy,
        _ => StoreError::Io(e.to_string()),
    }
}

/// True when the error is a UNIQUE constraint violation.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Extension to turn rusqlite results into store results.
pub(crate) trait SqlResult<T> {
    /// Maps the error with [`map`].
    fn store(self) -> Result<T, StoreError>;
}

impl<T> SqlResult<T> for Result<T, rusqlite::Error> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(map)
    }
}

//! Why a command failed, as the command line reports it: one line on stderr,
//! `error: KEY: message`, with a stable key (a refusal's reason key such as
//! `voucher_not_active`, or a store error's key), and the exit code of its
//! class.

use std::process::ExitCode;

use voucher_core::decision::{Reason, Refusal};
use voucher_core::port::StoreError;

/// The exit code classes, documented in `voucher --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 1: refused by a rule (the code is expired, the balance is too low).
    Refused,
    /// 2: the command line is wrong (a flag, an amount, a code config).
    Usage,
    /// 3: what was named does not exist (an unknown code too).
    NotFound,
    /// 4: anything else (the database, the disk, the server).
    Other,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Refused => 1,
            Exit::Usage => 2,
            Exit::NotFound => 3,
            Exit::Other => 4,
        }
    }
}

/// A failed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Its exit code class.
    pub exit: Exit,
    /// The stable key (`voucher_not_active`, `not_found`, `invalid_amount`).
    pub key: String,
    /// What went wrong, for a person.
    pub message: String,
}

impl Failure {
    fn new(exit: Exit, key: &str, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            key: key.to_owned(),
            message: message.into(),
        }
    }

    /// A wrong flag or value (exit 2).
    pub fn usage(key: &str, message: impl Into<String>) -> Failure {
        Failure::new(Exit::Usage, key, message)
    }

    /// Something named does not exist (exit 3).
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(Exit::NotFound, "not_found", message)
    }

    /// Any other failure (exit 4).
    pub fn other(key: &str, message: impl Into<String>) -> Failure {
        Failure::new(Exit::Other, key, message)
    }

    /// A refusal by the engine: exit 1, or 3 for an unknown code.
    pub fn refusal(refusal: &Refusal, failure_id: Option<&str>) -> Failure {
        let exit = if refusal.reason == Reason::ResourceNotFound {
            Exit::NotFound
        } else {
            Exit::Refused
        };
        let mut message = refusal.reason.message().to_owned();
        if let Some(rule) = &refusal.rule_message {
            message.push_str(&format!(" ({rule})"));
        }
        if let Some(details) = &refusal.details {
            message.push_str(&format!(": {details}"));
        }
        if let Some(id) = failure_id {
            message.push_str(&format!(" [recorded as {id}]"));
        }
        Failure::new(exit, refusal.reason.key(), message)
    }

    /// Writes the one line to stderr.
    pub fn print(&self) {
        let message: String = self
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        eprintln!("error: {}: {}", self.key, message);
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit.code())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        let message = e.to_string();
        match e {
            StoreError::NotFound { .. } => Failure::not_found(message),
            StoreError::Duplicate { .. } => Failure::other("duplicate_found", message),
            StoreError::Refused {
                refusal,
                failure_id,
            } => Failure::refusal(&refusal, failure_id.as_deref()),
            StoreError::Invalid { key, message } => Failure::usage(key, message),
            StoreError::AlreadyRolledBack => {
                Failure::new(Exit::Refused, "already_rolled_back", message)
            }
            StoreError::IdempotencyKeyReused => Failure::other("idempotency_key_reused", message),
            StoreError::IdempotencyInFlight => {
                Failure::other("idempotency_request_in_flight", message)
            }
            StoreError::Corrupt(_) => Failure::other("database_corrupt", message),
            StoreError::NewerSchema { .. } => Failure::other("database_too_new", message),
            StoreError::DiskFull => Failure::other("disk_full", message),
            StoreError::Busy => Failure::other("database_busy", message),
            StoreError::Unavailable(_) => Failure::other("store_unavailable", message),
            StoreError::Io(_) => Failure::other("storage_failure", message),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::other("io_error", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: StoreError, exit: Exit, key: &str) {
        let failure = Failure::from(error);
        assert_eq!((failure.exit, failure.key.as_str()), (exit, key));
    }

    #[test]
    fn store_errors_map_to_their_exit_class_and_key() {
        let not_found = || StoreError::NotFound {
            resource: "voucher",
            id: "NOPE".to_owned(),
        };
        check(not_found(), Exit::NotFound, "not_found");
        let refused = |reason| StoreError::Refused {
            refusal: Refusal::new(reason),
            failure_id: Some("rf_1".to_owned()),
        };
        check(
            refused(Reason::VoucherNotActive),
            Exit::Refused,
            "voucher_not_active",
        );
        check(
            refused(Reason::ResourceNotFound),
            Exit::NotFound,
            "resource_not_found",
        );
        check(
            StoreError::Invalid {
                key: "invalid_code_config",
                message: "too small".to_owned(),
            },
            Exit::Usage,
            "invalid_code_config",
        );
        check(
            StoreError::AlreadyRolledBack,
            Exit::Refused,
            "already_rolled_back",
        );
        check(StoreError::DiskFull, Exit::Other, "disk_full");
    }
}

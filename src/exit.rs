//! The exit-code table (SPEC §4). Findings and halts never share a code with
//! tool failures, so scripts can tell "your config is wrong" from "ringmaster
//! could not run".

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Clean, or done.
    Clean = 0,
    /// Findings with severity error, or a rollout that halted.
    Findings = 1,
    /// Bad invocation, or a repo that cannot be read (bad manifest, unknown class or revision).
    Usage = 2,
    /// Operational failure: lock held, delivery target or metrics unreachable beyond retries.
    Operational = 3,
    /// `rollout run` stopped to wait for a person (approval, freeze).
    WaitingForPerson = 4,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  clean / done
  1  findings with severity error, or a rollout that halted
  2  bad invocation, or a repo that cannot be read (bad manifest, unknown class or revision)
  3  operational failure (lock held, delivery target or metrics unreachable)
  4  rollout stopped to wait for a person (approval required, line frozen)";

/// An error that carries its exit code; anything else maps to 2.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
        }
        .into()
    }

    pub fn operational(message: impl Into<String>) -> anyhow::Error {
        Failure {
            exit: Exit::Operational,
            message: message.into(),
        }
        .into()
    }
}

/// An I/O failure on ringmaster's own state or a delivery (a read-only or
/// full state directory, a file where a directory goes) is exit 3, not "the
/// repo cannot be read": the message, which names the file, is kept.
pub fn io_is_operational(err: anyhow::Error) -> anyhow::Error {
    let is_io = err
        .chain()
        .any(|c| c.is::<std::io::Error>() || c.is::<crate::store::lock::LockError>());
    if is_io && err.downcast_ref::<Failure>().is_none() {
        Failure::operational(format!("{err:#}"))
    } else {
        err
    }
}

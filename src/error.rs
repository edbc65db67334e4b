//! The one error type of the server.
//!
//! Every failure a request can meet is a variant here, and each variant knows
//! the status code the contract gives it. The rules return these errors and
//! the transport turns them into responses, so the mapping from failure to
//! code lives in exactly one place: [`Error::status`].

use std::fmt;

/// A failed operation, carrying what the client needs to be told.
#[derive(Debug)]
pub enum Error {
    /// Wrong password, bad or expired token, or someone else's store or order.
    Unauthorized,
    NoSuchUser,
    UserExists,
    NoSuchStore,
    StoreExists,
    NoSuchBook(String),
    BookExists(String),
    LowStock(String),
    NoSuchOrder,
    LowFunds,
    AlreadyPaid,
    AlreadyCancelled,
    /// The order's state does not allow the step; the text names the state.
    WrongState(String),
    /// A malformed request: the text says which field and why.
    Invalid(String),
    NotFound,
    MethodNotAllowed,
    TooLarge(usize),
    /// The request body did not arrive in time.
    TooSlow,
    /// SQLite failed. The cause is logged, never sent to the client.
    Database(rusqlite::Error),
    /// Anything else that should not happen. Logged, never sent.
    Internal(String),
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status code the contract assigns to this failure.
    pub fn status(&self) -> u16 {
        match self {
            Error::Unauthorized => 401,
            Error::NotFound => 404,
            Error::MethodNotAllowed => 405,
            Error::TooSlow => 408,
            Error::TooLarge(_) => 413,
            Error::NoSuchUser => 511,
            Error::UserExists => 512,
            Error::NoSuchStore => 513,
            Error::StoreExists => 514,
            Error::NoSuchBook(_) => 515,
            Error::BookExists(_) => 516,
            Error::LowStock(_) => 517,
            Error::NoSuchOrder => 518,
            Error::LowFunds => 519,
            Error::AlreadyPaid => 520,
            Error::AlreadyCancelled => 521,
            Error::WrongState(_) => 522,
            Error::Invalid(_) => 523,
            Error::Database(_) => 528,
            Error::Internal(_) => 530,
        }
    }

    /// Whether the failure is the server's fault and worth logging.
    pub fn is_internal(&self) -> bool {
        matches!(self, Error::Database(_) | Error::Internal(_))
    }

    /// Builds an [`Error::Invalid`] from anything printable.
    pub fn invalid(why: impl fmt::Display) -> Error {
        Error::Invalid(why.to_string())
    }
}

impl fmt::Display for Error {
    /// The short message sent to clients. Internal causes are not included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unauthorized => f.write_str("authorization failed"),
            Error::NotFound => f.write_str("not found"),
            Error::MethodNotAllowed => f.write_str("method not allowed"),
            Error::TooLarge(limit) => write!(f, "request body is larger than {limit} bytes"),
            Error::TooSlow => f.write_str("the request body did not arrive in time"),
            Error::NoSuchUser => f.write_str("user id does not exist"),
            Error::UserExists => f.write_str("user id already exists"),
            Error::NoSuchStore => f.write_str("store id does not exist"),
            Error::StoreExists => f.write_str("store id already exists"),
            Error::NoSuchBook(id) => write!(f, "book id {id:?} does not exist"),
            Error::BookExists(id) => write!(f, "book id {id:?} already exists"),
            Error::LowStock(id) => write!(f, "stock level of book {id:?} too low"),
            Error::NoSuchOrder => f.write_str("order id does not exist"),
            Error::LowFunds => f.write_str("not sufficient funds"),
            Error::AlreadyPaid => f.write_str("order already paid"),
            Error::AlreadyCancelled => f.write_str("order already cancelled"),
            Error::WrongState(why) => write!(f, "order state does not allow this: {why}"),
            Error::Invalid(why) => write!(f, "invalid parameter: {why}"),
            Error::Database(_) => f.write_str("database error"),
            Error::Internal(_) => f.write_str("internal error"),
        }
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        Error::Database(e)
    }
}

/// The cause behind an internal error, for the log only.
pub fn log_cause(e: &Error) -> String {
    match e {
        Error::Database(cause) => format!("database: {cause}"),
        Error::Internal(cause) => format!("internal: {cause}"),
        other => other.to_string(),
    }
}

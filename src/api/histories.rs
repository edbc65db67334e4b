//! Order lists as both `query_orders` answer them, and whole histories kept
//! for the clients that ask for them again and again.
//!
//! A whole history of a thousand orders is 600 KB of JSON and takes
//! milliseconds to read and write out, while load generators and polling
//! clients ask for the same few histories many times between changes. So a
//! whole history (no status filter, no paging) is kept as its finished
//! answer and handed out again for as long as it is certainly the same:
//!
//! - no transaction has been committed since it was read (any commit, by any
//!   request, forgets every kept history: simpler than tracing which orders
//!   a write touched, and exact);
//! - the clock has not reached the deadline of an order it lists as unpaid,
//!   at which that order becomes cancelled.
//!
//! Authorization is still decided for every request before anything kept is
//! handed out. Only this server's own writes are counted: a second process
//! writing orders into the same file would not be noticed, and the
//! project's own tools never do that (`import` only adds books).

use std::sync::Arc;

use rusqlite::Connection;

use super::json::Body;
use super::orders_json::OrdersJson;
use crate::cache::Kept;
use crate::db::Db;
use crate::error::Result;
use crate::model::history::{self, OrderQuery, Owner};

/// The most bytes all kept histories may hold together.
pub const BUDGET: usize = 16 << 20;

/// Whose whole history an answer is.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Whose {
    Buyer(String),
    Store(String),
}

/// A finished answer, and the deadline at which it stops being true.
#[derive(Clone)]
struct Answer {
    body: Arc<Vec<u8>>,
    due: Option<i64>,
}

/// Whole order histories, kept under the number of commits they saw.
pub struct Histories {
    kept: Kept<Whose, Answer>,
}

impl Default for Histories {
    fn default() -> Self {
        Histories {
            kept: Kept::new(BUDGET),
        }
    }
}

impl Histories {
    /// The orders of `owner` as the JSON array both `query_orders` answer
    /// with. `authorize` runs first, in the same read transaction, and
    /// returns which orders to list; its error is the answer.
    pub fn list(
        &self,
        db: &Db,
        owner: Owner<'_>,
        now: i64,
        authorize: impl FnOnce(&Connection) -> Result<OrderQuery>,
    ) -> Result<Body> {
        db.read_counted(|conn, commits| {
            let query = authorize(conn)?;
            match commits.filter(|_| query.is_whole()) {
                Some(seen) => self.whole(db, conn, seen, owner, now),
                None => Ok(Body::Owned(render(conn, owner, &query, now)?.0)),
            }
        })
    }

    /// The whole history: the kept answer if it is still true, otherwise
    /// read afresh and kept if nothing was committed meanwhile.
    fn whole(
        &self,
        db: &Db,
        conn: &Connection,
        seen: i64,
        owner: Owner<'_>,
        now: i64,
    ) -> Result<Body> {
        let whose = match owner {
            Owner::Buyer(id) => Whose::Buyer(id.to_string()),
            Owner::Store(id) => Whose::Store(id.to_string()),
        };
        if let Some(kept) = self.kept.get(seen, &whose) {
            if kept.due.is_none_or(|due| now < due) {
                return Ok(Body::Shared(kept.body));
            }
        }
        let (body, due) = render(conn, owner, &OrderQuery::default(), now)?;
        let answer = Answer {
            body: Arc::new(body),
            due,
        };
        let body = Body::Shared(answer.body.clone());
        // Nothing committed while it was read: it is exactly the state
        // after commit `seen`.
        if db.commits() == Some(seen) {
            let (Whose::Buyer(id) | Whose::Store(id)) = &whose;
            let size = answer.body.len() + id.len();
            self.kept.keep(seen, whose, answer, size);
        }
        Ok(body)
    }

    /// Forgets every kept history.
    pub fn clear(&self) {
        self.kept.clear();
    }
}

/// Reads the orders `query` selects and writes them out; also gives the
/// deadline at which the list stops being true, if it lists an unpaid order.
fn render(
    conn: &Connection,
    owner: Owner<'_>,
    query: &OrderQuery,
    now: i64,
) -> Result<(Vec<u8>, Option<i64>)> {
    let mut list = OrdersJson::with_room_for(query.limit);
    history::visit(conn, owner, query, now, |o| list.push(o))?;
    let due = list.due();
    Ok((list.finish(), due))
}

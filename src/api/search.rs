//! `/search/books`: full-text search of the whole catalog or of one store.

use serde::{Deserialize, Serialize};

use super::json::{self, decode, Reply};
use super::Input;
use crate::app::App;
use crate::error::{Error, Result};
use crate::model::catalog::Offer;
use crate::model::types::check_id;
use crate::search::find::{Hit, Page};
use crate::search::{find, Field, Query};

#[derive(Deserialize)]
struct SearchRequest {
    keyword: String,
    store_id: Option<String>,
    fields: Option<Vec<String>>,
    page: Option<i64>,
    page_size: Option<i64>,
}

#[derive(Serialize)]
struct SearchReply {
    message: &'static str,
    total: usize,
    page: i64,
    page_size: i64,
    books: Vec<BookHit>,
}

#[derive(Serialize)]
struct BookHit {
    book_id: String,
    title: String,
    author: Option<String>,
    tags: Vec<String>,
    excerpt: String,
    stores: Vec<OfferJson>,
    store_count: i64,
}

/// A store's offer, as both the search and the book page show it.
#[derive(Serialize)]
pub struct OfferJson {
    store_id: String,
    price: i64,
    stock: i64,
}

impl From<Offer> for OfferJson {
    fn from(o: Offer) -> OfferJson {
        OfferJson {
            store_id: o.store_id,
            price: o.price,
            stock: o.stock,
        }
    }
}

impl From<Hit> for BookHit {
    fn from(h: Hit) -> BookHit {
        BookHit {
            book_id: h.book_id,
            title: h.title,
            author: h.author,
            tags: h.tags,
            excerpt: h.excerpt,
            stores: h.offers.into_iter().map(OfferJson::from).collect(),
            store_count: h.store_count,
        }
    }
}

/// `/search/books`: one page of the books matching `keyword`, best first.
/// 523 for an empty keyword, an unknown field or a page out of range; 513
/// for an unknown `store_id` (an empty one means the whole site).
pub fn books(app: &App, input: &Input) -> Result<Reply> {
    let req: SearchRequest = decode(input.body)?;
    let fields = req.fields.as_deref().map(parse_fields).transpose()?;
    let query = Query::new(&req.keyword, fields)?;
    let page = Page::new(req.page, req.page_size)?;
    let store = req.store_id.as_deref().filter(|s| !s.is_empty());
    if let Some(store) = store {
        check_id("store_id", store)?;
    }

    let found = app
        .db
        .read(|c| find(c, &app.search_cache, &query, store, page))?;
    json::json(&SearchReply {
        message: "ok",
        total: found.total,
        page: page.number(),
        page_size: page.size(),
        books: found.hits.into_iter().map(BookHit::from).collect(),
    })
}

/// The field names of the request, each one of [`Field::ALL`].
fn parse_fields(names: &[String]) -> Result<Vec<Field>> {
    names
        .iter()
        .map(|name| {
            Field::parse(name).ok_or_else(|| {
                let known: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                Error::invalid(format!(
                    "fields: unknown field {name:?}; known are {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

//! `/search/books`: recall on Chinese keywords against a plain substring
//! scan, store scoping, paging, consistency with the catalog, and keywords
//! written to break the query parser.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use bookstore::config::KdfArgs;
use bookstore::model::stores;
use bookstore::model::types::NewBook;
use bookstore::search::find::{Page, RANK_LIMIT};
use bookstore::search::segment::is_cjk;
use bookstore::search::{find, Query};
use bookstore::App;
use common::{book, TestServer};
use serde_json::{json, Value};

/// Every book's id and searchable text, read straight from the file.
fn catalog_texts(s: &TestServer) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(s.db_path()).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT book_id, title, coalesce(author, ''), tags, coalesce(book_intro, ''),
                    coalesce(content, ''), coalesce(isbn, '')
             FROM books",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let fields: Vec<String> = (1..7).map(|i| r.get(i)).collect::<Result<_, _>>()?;
            Ok((r.get(0)?, fields.join("\n")))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// Every distinct CJK character and, thinned to about `max_pairs`, every
/// distinct pair of adjacent CJK characters in the texts.
fn chinese_keywords(texts: &[(String, String)], max_pairs: usize) -> Vec<String> {
    let mut singles = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for (_, text) in texts {
        let chars: Vec<char> = text.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if !is_cjk(c) {
                continue;
            }
            singles.insert(c.to_string());
            if chars.get(i + 1).is_some_and(|&d| is_cjk(d)) {
                pairs.insert(format!("{c}{}", chars[i + 1]));
            }
        }
    }
    let step = (pairs.len() / max_pairs).max(1);
    let mut keywords: Vec<String> = singles.into_iter().collect();
    keywords.extend(pairs.into_iter().step_by(step));
    keywords.extend(["三", "小说", "历史"].map(String::from));
    keywords
}

/// Every book id the search finds for `keyword`, over all pages.
fn found_ids(app: &App, keyword: &str, store: Option<&str>) -> (usize, HashSet<String>) {
    let query = Query::new(keyword, None).unwrap();
    let mut ids = HashSet::new();
    let mut total = 0;
    for number in 1.. {
        let page = Page::new(Some(number), Some(100)).unwrap();
        let found = app
            .db
            .read(|c| find(c, &app.search_cache, &query, store, page))
            .unwrap();
        total = found.total;
        if found.hits.is_empty() {
            break;
        }
        ids.extend(found.hits.into_iter().map(|h| h.book_id));
    }
    (total, ids)
}

/// Asserts that each keyword finds exactly the books a substring scan finds.
fn assert_full_recall(s: &TestServer, max_pairs: usize) -> usize {
    let texts = catalog_texts(s);
    let keywords = chinese_keywords(&texts, max_pairs);
    for keyword in &keywords {
        let expected: HashSet<String> = texts
            .iter()
            .filter(|(_, text)| text.contains(keyword.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        let (total, found) = found_ids(s.server().app(), keyword, None);
        assert_eq!(found, expected, "keyword {keyword:?}");
        assert_eq!(total, expected.len(), "total for {keyword:?}");
    }
    keywords.len()
}

fn search(s: &TestServer, body: Value) -> common::Answer {
    s.post("/search/books", body)
}

fn ids(answer: &common::Answer) -> Vec<String> {
    answer.body["books"]
        .as_array()
        .unwrap_or_else(|| panic!("no books in {answer:?}"))
        .iter()
        .map(|b| b["book_id"].as_str().unwrap().to_string())
        .collect()
}

fn new_book(id: &str, title: &str, intro: &str) -> NewBook {
    NewBook {
        id: id.into(),
        title: title.into(),
        price: 100,
        book_intro: Some(intro.into()),
        ..NewBook::default()
    }
}

/// Lists many books at once, behind the API, for tests that need volume.
fn list_directly(s: &TestServer, seller: &str, store: &str, books: &[NewBook]) {
    let app = s.server().app();
    let now = app.now();
    app.db
        .write(|tx| {
            for b in books {
                stores::add_book(tx, seller, store, b, 5, now)?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn chinese_keywords_of_one_or_two_characters_find_every_book_of_the_fixture_catalog() {
    let s = TestServer::start();
    bookstore::demo::load(s.server().app()).unwrap();

    let checked = assert_full_recall(&s, 1500);

    assert!(checked > 1000, "only {checked} keywords checked");
}

#[test]
fn chinese_keywords_of_one_or_two_characters_find_every_book_of_the_course_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/book.db");
    if !path.exists() {
        println!("skipped: {} is not here", path.display());
        return;
    }
    let s = TestServer::start();
    let args = bookstore::import::ImportArgs {
        from: path,
        seller: "importer".into(),
        store: "imported".into(),
        db: s.db_path(),
        password: Some("pw".into()),
        kdf: KdfArgs::CHEAP,
        stock: 1,
    };
    let app = s.server().app();
    let hidden = indicatif::ProgressBar::hidden();
    bookstore::import::import(&app.db, &args, app.now(), &hidden).unwrap();

    let checked = assert_full_recall(&s, 1500);

    assert!(checked > 2000, "only {checked} keywords checked");
}

#[test]
fn english_words_in_any_case_isbns_and_several_words_are_found() {
    let s = TestServer::start();
    let mut harry = book("b1", 100);
    harry["title"] = json!("Harry Potter and the Philosopher's Stone");
    harry["isbn"] = json!("9787020033430");
    let mut other = book("b2", 100);
    other["title"] = json!("Harry 的历史读本");
    let token = s.seller_with_store("seller", "store", &[]);
    s.add_book(&token, "seller", "store", harry, 1);
    s.add_book(&token, "seller", "store", other, 1);

    let by = |keyword: &str| ids(&search(&s, json!({"keyword": keyword})));

    assert_eq!(by("HARRY potter"), ["b1"]);
    assert_eq!(by("philosopher"), ["b1"]);
    assert_eq!(by("978-7-02-003343-0"), ["b1"]);
    assert_eq!(by("9787020033430"), ["b1"]);
    assert_eq!(by("harry 历史"), ["b2"]);
    assert_eq!(by("历史读本"), ["b2"]);
    assert_eq!(by("历本"), Vec::<String>::new());
}

#[test]
fn a_result_carries_the_books_description_excerpt_and_the_stores_selling_it() {
    let s = TestServer::start();
    let mut info = book("b1", 4500);
    info["title"] = json!("三国演义");
    info["author"] = json!("罗贯中");
    info["tags"] = json!(["小说", "古典"]);
    info["book_intro"] = json!("东汉末年，天下大乱，英雄并起。");
    let a = s.seller_with_store("a", "store-a", &[]);
    s.add_book(&a, "a", "store-a", info.clone(), 7);
    let b = s.seller_with_store("b", "store-b", &[]);
    info["price"] = json!(3900);
    s.add_book(&b, "b", "store-b", info, 2);

    let answer = search(&s, json!({"keyword": "天下"}));

    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["total"], 1);
    assert_eq!(answer.body["page"], 1);
    assert_eq!(answer.body["page_size"], 20);
    let hit = &answer.body["books"][0];
    assert_eq!(hit["book_id"], "b1");
    assert_eq!(hit["title"], "三国演义");
    assert_eq!(hit["author"], "罗贯中");
    assert_eq!(hit["tags"], json!(["小说", "古典"]));
    assert_eq!(hit["excerpt"], "东汉末年，天下大乱，英雄并起。");
    assert_eq!(
        hit["stores"],
        json!([
            {"store_id": "store-b", "price": 3900, "stock": 2},
            {"store_id": "store-a", "price": 4500, "stock": 7}
        ])
    );
    assert_eq!(hit["store_count"], 2);
}

#[test]
fn a_result_lists_the_ten_cheapest_offers_ties_by_store_and_counts_them_all() {
    let s = TestServer::start();
    let price = |i: usize| 1000 + (i % 3) as i64 * 100;
    for i in [7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 4, 6] {
        let (user, store) = (format!("seller-{i:02}"), format!("store-{i:02}"));
        let token = s.seller_with_store(&user, &store, &[]);
        s.add_book(&token, &user, &store, book("b1", price(i)), i as i64);
    }

    let answer = search(&s, json!({"keyword": "b1"}));

    assert_eq!(answer.status, 200, "{answer:?}");
    let mut expected: Vec<usize> = (0..12).collect();
    expected.sort_by_key(|&i| (price(i), format!("store-{i:02}")));
    let expected: Vec<Value> = expected[..10]
        .iter()
        .map(|&i| json!({"store_id": format!("store-{i:02}"), "price": price(i), "stock": i}))
        .collect();
    assert_eq!(answer.body["books"][0]["stores"], json!(expected));
    assert_eq!(answer.body["books"][0]["store_count"], 12);
}

#[test]
fn every_result_on_a_page_carries_its_own_books_offers_in_page_order() {
    let s = TestServer::start();
    let a = s.seller_with_store("a", "store-a", &[]);
    let b = s.seller_with_store("b", "store-b", &[]);
    for i in 1..=5i64 {
        let id = format!("b{i}");
        s.add_book(&a, "a", "store-a", book(&id, 100 * i), i);
        if i % 2 == 1 {
            s.add_book(&b, "b", "store-b", book(&id, 1000 + i), 10 + i);
        }
    }
    let expected = |id: &str| {
        let i: i64 = id[1..].parse().unwrap();
        let mut stores = vec![json!({"store_id": "store-a", "price": 100 * i, "stock": i})];
        if i % 2 == 1 {
            stores.push(json!({"store_id": "store-b", "price": 1000 + i, "stock": 10 + i}));
        }
        (json!(stores), stores.len())
    };

    let all = search(&s, json!({"keyword": "一本书", "page_size": 5}));
    let mut paged = Vec::new();
    for page in 1..=3 {
        let answer = search(
            &s,
            json!({"keyword": "一本书", "page": page, "page_size": 2}),
        );
        assert_eq!(answer.status, 200, "{answer:?}");
        for hit in answer.body["books"].as_array().unwrap() {
            let id = hit["book_id"].as_str().unwrap();
            let (stores, count) = expected(id);
            assert_eq!(hit["stores"], stores, "{id}");
            assert_eq!(hit["store_count"], count, "{id}");
            paged.push(id.to_string());
        }
    }
    assert_eq!(paged, ids(&all));
    assert_eq!(paged.len(), 5);
}

#[test]
fn a_search_scoped_to_a_store_finds_only_its_books_and_shows_only_its_offer() {
    let s = TestServer::start();
    s.seller_with_store("a", "store-a", &[("shared", 100, 1), ("only-a", 100, 1)]);
    s.seller_with_store("b", "store-b", &[("shared", 200, 3), ("only-b", 100, 1)]);

    let scoped = search(&s, json!({"keyword": "一本书", "store_id": "store-b"}));
    let whole = search(&s, json!({"keyword": "一本书"}));
    let unknown = search(&s, json!({"keyword": "一本书", "store_id": "nowhere"}));

    assert_eq!(scoped.body["total"], 2);
    let mut got = ids(&scoped);
    got.sort();
    assert_eq!(got, ["only-b", "shared"]);
    let shared = scoped.body["books"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["book_id"] == "shared")
        .unwrap();
    assert_eq!(
        shared["stores"],
        json!([{"store_id": "store-b", "price": 200, "stock": 3}])
    );
    assert_eq!(whole.body["total"], 3);
    assert_eq!(unknown.status, 513);
}

#[test]
fn scoping_a_large_match_set_to_a_store_keeps_only_that_stores_books() {
    let s = TestServer::start();
    s.seller_with_store("a", "store-a", &[]);
    s.seller_with_store("b", "store-b", &[]);
    let books: Vec<NewBook> = (0..2600)
        .map(|i| new_book(&format!("k{i:04}"), "书", "共同的简介"))
        .collect();
    let (to_a, to_b): (Vec<_>, Vec<_>) = books.into_iter().partition(|b| b.id.as_str() < "k2500");
    list_directly(&s, "a", "store-a", &to_a);
    list_directly(&s, "b", "store-b", &to_b);

    let (total_a, in_a) = found_ids(s.server().app(), "简介", Some("store-a"));
    let (total_b, in_b) = found_ids(s.server().app(), "简介", Some("store-b"));

    assert_eq!((total_a, in_a.len()), (2500, 2500));
    assert_eq!((total_b, in_b.len()), (100, 100));
    assert!(in_b.iter().all(|id| id.as_str() >= "k2500"));
}

#[test]
fn pages_add_up_to_the_total_without_overlap_for_small_and_large_match_sets() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[]);
    // Titles repeat so that many books tie on relevance.
    let books: Vec<NewBook> = (0..RANK_LIMIT + 300)
        .map(|i| {
            let title = if i % 7 == 0 { "历史小说" } else { "随笔" };
            let intro = if i < 45 {
                "稀有的词 与历史"
            } else {
                "历史"
            };
            new_book(&format!("p{i:05}"), title, intro)
        })
        .collect();
    list_directly(&s, "seller", "store", &books);

    for (keyword, expected) in [("稀有", 45), ("历史", RANK_LIMIT + 300)] {
        let mut seen = Vec::new();
        for page in 1.. {
            let a = search(
                &s,
                json!({"keyword": keyword, "page": page, "page_size": 100}),
            );
            assert_eq!(a.status, 200, "{a:?}");
            assert_eq!(a.body["total"], expected);
            let page_ids = ids(&a);
            if page_ids.is_empty() {
                break;
            }
            seen.extend(page_ids);
        }
        let distinct: HashSet<&String> = seen.iter().collect();
        assert_eq!(seen.len(), expected, "{keyword}");
        assert_eq!(distinct.len(), expected, "{keyword}: pages overlap");
    }
}

#[test]
fn books_whose_title_matches_come_first() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[]);
    let mut books: Vec<NewBook> = (0..RANK_LIMIT + 10)
        .map(|i| new_book(&format!("x{i:05}"), "随笔", "谈历史"))
        .collect();
    books.push(new_book("titled", "历史", "无"));
    list_directly(&s, "seller", "store", &books);

    let big = search(&s, json!({"keyword": "历史", "page_size": 3}));
    let small = search(&s, json!({"keyword": "历史 无", "page_size": 3}));

    assert_eq!(ids(&big)[0], "titled");
    assert_eq!(ids(&small), ["titled"]);
}

#[test]
fn fields_narrow_where_the_keyword_is_looked_for() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);
    let mut in_title = book("t", 1);
    in_title["title"] = json!("海边的卡夫卡");
    let mut in_intro = book("i", 1);
    in_intro["book_intro"] = json!("卡夫卡的小说");
    s.add_book(&token, "seller", "store", in_title, 1);
    s.add_book(&token, "seller", "store", in_intro, 1);

    let title_only = search(&s, json!({"keyword": "卡夫卡", "fields": ["title"]}));
    let intro_only = search(
        &s,
        json!({"keyword": "卡夫卡", "fields": ["book_intro", "content"]}),
    );
    let bad = search(&s, json!({"keyword": "卡夫卡", "fields": ["price"]}));

    assert_eq!(ids(&title_only), ["t"]);
    assert_eq!(ids(&intro_only), ["i"]);
    assert_eq!(intro_only.body["books"][0]["excerpt"], "卡夫卡的小说");
    assert_eq!(bad.status, 523);
}

#[test]
fn a_book_is_found_as_soon_as_it_is_added_and_shows_its_current_stock() {
    let s = TestServer::start();
    let token = s.seller_with_store("seller", "store", &[]);
    let mut info = book("fresh", 990);
    info["title"] = json!("刚上架的新书");

    assert_eq!(search(&s, json!({"keyword": "上架"})).body["total"], 0);
    s.add_book(&token, "seller", "store", info, 4);
    let before = search(&s, json!({"keyword": "上架"}));
    let added = s.post_as(
        &token,
        "/seller/add_stock_level",
        json!({"user_id": "seller", "store_id": "store", "book_id": "fresh", "add_stock_level": 6}),
    );
    let after = search(&s, json!({"keyword": "上架"}));

    assert_eq!(before.body["books"][0]["stores"][0]["stock"], 4);
    assert_eq!(added.status, 200);
    assert_eq!(after.body["books"][0]["stores"][0]["stock"], 10);
}

#[test]
fn a_repeated_store_search_sees_a_catalog_book_the_store_lists_later() {
    let s = TestServer::start();
    s.seller_with_store("a", "store-a", &[("b1", 100, 1)]);
    let token = s.seller_with_store("b", "store-b", &[]);
    let query = json!({"keyword": "一本书", "store_id": "store-b"});

    let before = search(&s, query.clone());
    s.add_book(&token, "b", "store-b", book("b1", 300), 2);
    let after = search(&s, query);

    assert_eq!(before.body["total"], 0);
    assert_eq!(ids(&after), ["b1"]);
    assert_eq!(
        after.body["books"][0]["stores"],
        json!([{"store_id": "store-b", "price": 300, "stock": 2}])
    );
}

#[test]
fn hostile_keywords_are_answered_quickly_and_never_with_an_error() {
    let s = TestServer::start();
    s.seller_with_store("seller", "store", &[("b1", 100, 1)]);
    let long_cjk = "书".repeat(10_000);
    let long_mixed = "的 a ".repeat(2_500);
    let hostile = [
        "\"",
        "\"\"\"",
        "*",
        "书*",
        "-书",
        "NEAR(书 作者)",
        "书 AND 作者",
        "书 OR",
        "NOT 书",
        "(((",
        ")",
        "{title}: 书",
        "title:书",
        "^书",
        "书 + 作者",
        "'; DROP TABLE books; --",
        "\u{0}\u{7}",
        "。，！？",
        long_cjk.as_str(),
        long_mixed.as_str(),
    ];

    for keyword in hostile {
        let started = Instant::now();
        let a = search(&s, json!({"keyword": keyword}));
        assert_eq!(a.status, 200, "{keyword:?}: {a:?}");
        assert!(a.body["total"].is_u64(), "{keyword:?}: {a:?}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{keyword:?} was slow"
        );
    }
    assert_eq!(ids(&search(&s, json!({"keyword": "书*"}))), ["b1"]);
    assert_eq!(
        ids(&search(&s, json!({"keyword": "书 AND 作者"}))),
        Vec::<String>::new()
    );
}

#[test]
fn an_empty_keyword_or_bad_paging_is_invalid() {
    let s = TestServer::start();

    for body in [
        json!({"keyword": ""}),
        json!({"keyword": "   "}),
        json!({}),
        json!({"keyword": 3}),
        json!({"keyword": "书", "page": 0}),
        json!({"keyword": "书", "page_size": 0}),
        json!({"keyword": "书", "page_size": 100_000}),
        json!({"keyword": "书", "page": 1.5}),
        json!({"keyword": "书", "fields": []}),
    ] {
        let a = search(&s, body.clone());
        assert_eq!(a.status, 523, "{body}: {a:?}");
        assert!(!a.message().is_empty());
    }
    let far = search(
        &s,
        json!({"keyword": "书", "page": i64::MAX, "page_size": 100}),
    );
    assert_eq!(far.status, 200, "{far:?}");
}

//! Page tokens and `order_by` (AIP-158): any `page_size`, `page_token` and
//! `order_by` a client sends is parsed or refused, and a token the server
//! made is read back to the key it carries, for its own query only.
#![no_main]

use arbitrary::Arbitrary;
use fiveledger_platform::aip::page::{PageRequest, parse_order_by};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[derive(Debug, Arbitrary)]
enum Key {
    Text(String),
    Number(i64),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    page_size: i32,
    page_token: &'a str,
    order_by: &'a str,
    query: Vec<&'a str>,
    /// Sort key of the last row of a page the server returns.
    last: Vec<Key>,
    rows: u8,
}

/// The `order_by` fields the services accept (first is the default).
const ORDERS: &[&[&str]] = &[
    &["name"],
    &["name", "create_time"],
    &["create_time", "name"],
    &["name", "due_date", "create_time"],
];

fuzz_target!(|input: Input<'_>| {
    let query = &input.query;
    // Whatever the client sends.
    if let Ok(page) = PageRequest::parse(input.page_size, input.page_token, query) {
        assert!(page.size >= 1 && page.limit() == page.size + 1);
        for i in 0..4 {
            let _ = page.after_str(i);
            let _ = page.after_i64(i);
        }
    }
    for allowed in ORDERS {
        if let Ok((field, _)) = parse_order_by(input.order_by, allowed) {
            assert!(allowed.contains(&field));
        }
    }

    // What the server returns reads back, for the same query only.
    let Ok(page) = PageRequest::parse(input.page_size, "", query) else {
        return;
    };
    let key: Vec<Value> = input
        .last
        .iter()
        .map(|k| match k {
            Key::Text(s) => Value::from(s.as_str()),
            Key::Number(n) => Value::from(*n),
        })
        .collect();
    let rows: Vec<u8> = (0..=input.rows).collect();
    let (shown, token) = page.finish(rows.clone(), |_| key.clone());
    assert!(shown.len() as u64 <= page.size);
    if rows.len() as u64 <= page.size {
        assert!(token.is_empty());
        return;
    }
    let next = PageRequest::parse(input.page_size, &token, query).expect("own token");
    assert_eq!(next.after.as_ref(), Some(&key));
    for (i, k) in input.last.iter().enumerate() {
        match k {
            Key::Text(s) => assert_eq!(next.after_str(i).ok().flatten(), Some(s.as_str())),
            Key::Number(n) => assert_eq!(next.after_i64(i).ok().flatten(), Some(*n)),
        }
    }
    let mut other = query.clone();
    other.push("another query");
    assert!(PageRequest::parse(input.page_size, &token, &other).is_err());
});

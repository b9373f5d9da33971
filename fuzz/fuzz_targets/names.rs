//! Resource names and ids (AIP-122), organisation paths, free text, field
//! masks and etags: what every handler checks in a request's strings before
//! it looks anything up.
#![no_main]

use arbitrary::Arbitrary;
use fiveledger_platform::aip::{etag, field_mask, names};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    name: &'a str,
    collection: &'a str,
    parent_collection: &'a str,
    text: &'a str,
    max: u16,
    mask: Vec<String>,
    etag: &'a str,
    revision: i64,
}

/// Collections of the suite's resource names.
const COLLECTIONS: &[&str] = &[
    "organisations",
    "inspectors",
    "rounds",
    "categories",
    "problems",
    "clues",
    "entries",
    "publications",
];

fn check_parse(name: &str, collection: &str) {
    if let Ok(id) = names::parse("name", name, collection) {
        assert_eq!(format!("{collection}/{id}"), name);
        assert!(names::validate_id("id", id).is_ok());
    }
}

fuzz_target!(|input: Input<'_>| {
    let name = input.name;
    if names::validate_id("id", name).is_ok() {
        assert!(!name.is_empty() && name.len() <= names::MAX_ID_LEN && name.is_ascii());
    }
    check_parse(name, input.collection);
    for collection in COLLECTIONS {
        check_parse(name, collection);
    }
    for (parent, collection) in [
        (input.parent_collection, input.collection),
        ("rounds", "inspections"),
        ("rounds", "groups"),
    ] {
        if let Ok((p, id)) = names::parse_nested("name", name, parent, collection) {
            assert_eq!(format!("{parent}/{p}/{collection}/{id}"), name);
        }
    }
    if let Ok(path) = names::parse_path("path", name) {
        assert_eq!(path, name);
    }
    let max = usize::from(input.max);
    for required in [true, false] {
        let _ = names::validate_text("text", input.text, required, max);
    }
    let _ = names::at_most("items", input.mask.len(), max);

    // The services' own name parsers.
    let _ = fiveledger_issues::domain::problem::parse_inspection("inspection", name);
    if let Ok(inspection) = fiveledger_issues::domain::problem_list::inspection_of(name) {
        assert_eq!(
            fiveledger_issues::domain::problem_list::name_of(inspection),
            name
        );
    }
    if let Ok(id) = fiveledger_ledgers::domain::entry::parse_name("name", name) {
        assert_eq!(fiveledger_ledgers::domain::entry::name_of(id), name);
    }

    let mask = prost_types::FieldMask { paths: input.mask };
    for updatable in [&["title"][..], &["title", "description", "evidence"][..]] {
        if let Ok(paths) = field_mask::paths(Some(&mask), updatable) {
            assert!(paths.iter().all(|p| updatable.contains(p)));
        }
    }
    let current = etag::etag(input.revision);
    assert!(etag::check("r", &current, input.revision).is_ok());
    if etag::check("r", input.etag, input.revision).is_ok() {
        assert!(input.etag.is_empty() || input.etag == current);
    }
});

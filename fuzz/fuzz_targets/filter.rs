//! The AIP-160 filter parser every List method runs first: any text is
//! either a list of comparisons or INVALID_ARGUMENT naming `filter`.
#![no_main]

use fiveledger_platform::aip::filter::{self, MAX_FILTER_LEN, Op};
use libfuzzer_sys::fuzz_target;

const ALL: [Op; 7] = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Has];

fuzz_target!(|text: &str| {
    match filter::parse(text) {
        Ok(comparisons) => {
            assert!(text.len() <= MAX_FILTER_LEN);
            for c in &comparisons {
                assert!(!c.field.is_empty(), "{text:?} gave an empty field");
                assert_eq!(c.expect_op(&ALL).ok(), Some(c.value.as_str()));
                let _ = c.expect_op(&[Op::Eq]);
                let _ = c.expect_op(&[]);
            }
        }
        Err(err) => assert_eq!(err.reason(), "INVALID_FILTER", "{text:?}"),
    }
});

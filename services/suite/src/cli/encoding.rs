//! The text encoding of a CSV file. Chinese Excel saves CSV in GBK (read
//! as GB18030, its superset); newer versions write UTF-8 with a
//! byte-order mark; scripts write plain UTF-8.

use encoding_rs::{Encoding, GB18030, UTF_8};

/// Decodes `bytes`: by their byte-order mark, else as UTF-8 when they are
/// valid UTF-8, else as GB18030. Returns the text and the encoding used,
/// as the user would name it.
pub fn decode(bytes: &[u8]) -> (String, &'static str) {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return (text.into_owned(), label(encoding, true));
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_owned(), label(UTF_8, false));
    }
    // GB18030 maps every byte sequence, so this never fails; malformed
    // bytes become U+FFFD and show in the row that holds them.
    let (text, _) = GB18030.decode_without_bom_handling(bytes);
    (text.into_owned(), label(GB18030, false))
}

fn label(encoding: &'static Encoding, bom: bool) -> &'static str {
    match (encoding.name(), bom) {
        ("UTF-8", true) => "UTF-8 (with BOM)",
        ("UTF-8", false) => "UTF-8",
        ("UTF-16LE", _) => "UTF-16LE (with BOM)",
        ("UTF-16BE", _) => "UTF-16BE (with BOM)",
        _ => "GB18030 (GBK)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_then_utf8_then_gb18030() {
        assert_eq!(
            decode("\u{feff}问题类别".as_bytes()),
            ("问题类别".to_owned(), "UTF-8 (with BOM)")
        );
        assert_eq!(
            decode("问题类别".as_bytes()),
            ("问题类别".to_owned(), "UTF-8")
        );
        let (gbk, _, _) = GB18030.encode("问题类别,党的领导");
        assert!(std::str::from_utf8(&gbk).is_err());
        assert_eq!(
            decode(&gbk),
            ("问题类别,党的领导".to_owned(), "GB18030 (GBK)")
        );
    }
}

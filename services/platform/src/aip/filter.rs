//! A documented subset of AIP-160 filters: comparisons joined by `AND`.
//!
//! ```text
//! filter     = comparison { "AND" comparison }
//! comparison = field op value
//! op         = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"   (":" is "has")
//! value      = "quoted string" | bare-word | number
//! ```
//! Services decide which fields and operators they accept.

use crate::error::ApiError;

/// Longest filter we parse.
pub const MAX_FILTER_LEN: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub field: String,
    pub op: Op,
    pub value: String,
}

impl Comparison {
    /// Refuses operators other than those the field supports.
    pub fn expect_op(&self, allowed: &[Op]) -> Result<&str, ApiError> {
        if allowed.contains(&self.op) {
            Ok(&self.value)
        } else {
            Err(invalid(format!(
                "operator {:?} is not supported on {}",
                self.op, self.field
            )))
        }
    }
}

fn invalid(description: impl Into<String>) -> ApiError {
    ApiError::invalid("filter", "INVALID_FILTER", description)
}

/// Parses a filter; the empty filter is no comparison at all.
pub fn parse(filter: &str) -> Result<Vec<Comparison>, ApiError> {
    if filter.len() > MAX_FILTER_LEN {
        return Err(invalid(format!(
            "filter must be at most {MAX_FILTER_LEN} bytes"
        )));
    }
    let tokens = tokenize(filter)?;
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !out.is_empty() {
            match &tokens[i] {
                Token::Word(w) if w == "AND" => i += 1,
                other => return Err(invalid(format!("expected AND, found {other}"))),
            }
        }
        let (Some(Token::Word(field)), Some(Token::Op(op)), Some(value)) =
            (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
        else {
            return Err(invalid("expected `field op value`"));
        };
        let value = match value {
            Token::Word(w) | Token::Quoted(w) => w.clone(),
            Token::Op(_) => return Err(invalid("expected a value after the operator")),
        };
        out.push(Comparison {
            field: field.clone(),
            op: *op,
            value,
        });
        i += 3;
    }
    Ok(out)
}

#[derive(Debug)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) => write!(f, "{w:?}"),
            Token::Quoted(w) => write!(f, "\"{w}\""),
            Token::Op(op) => write!(f, "{op:?}"),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, ApiError> {
    let mut tokens = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(e) => s.push(e),
                            None => return Err(invalid("unterminated string")),
                        },
                        Some(ch) => s.push(ch),
                        None => return Err(invalid("unterminated string")),
                    }
                }
                tokens.push(Token::Quoted(s));
            }
            '=' | ':' => {
                chars.next();
                tokens.push(Token::Op(if c == '=' { Op::Eq } else { Op::Has }));
            }
            '!' | '<' | '>' => {
                chars.next();
                let eq = chars.peek() == Some(&'=');
                if eq {
                    chars.next();
                }
                let op = match (c, eq) {
                    ('!', true) => Op::Ne,
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => return Err(invalid("`!` must be followed by `=`")),
                };
                tokens.push(Token::Op(op));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || "=:!<>\"".contains(ch) {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                tokens.push(Token::Word(s));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conjunctions() {
        let f =
            parse(r#"kind = ORGANISATION_KIND_CITY AND parent="organisations/gx" AND depth >= 2"#)
                .expect("parse");
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].field, "parent");
        assert_eq!(f[1].value, "organisations/gx");
        assert_eq!(f[2].op, Op::Ge);
        assert!(parse("").expect("empty").is_empty());
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "kind",
            "kind =",
            "a = b OR c = d",
            "a = \"x",
            "a ! b",
            "= x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}

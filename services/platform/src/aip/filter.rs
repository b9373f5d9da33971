//! A documented subset of AIP-160 filters: comparisons joined by `AND`.
//!
//! ```text
//! filter     = comparison { "AND" comparison }
//! comparison = field op value
//! op         = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"   (":" is "has")
//! value      = "quoted string" | bare-word | number
//! ```
//! Each List declares the fields it accepts once, as a [`Schema`]: name,
//! operators, and how a value narrows its query. The same table answers
//! an unknown field with the fields there are, and is checked against the
//! request's documented `filter` comment by [`documented_fields`].

use crate::error::ApiError;
use crate::error::CommonReason;

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

/// The operators of an equality-only field.
pub const EQ: &[Op] = &[Op::Eq];

/// One field a List's filter accepts: the operators it takes and how a
/// value narrows the query `Q` (parsing it, INVALID_ARGUMENT naming the
/// field when it cannot).
pub struct Field<Q> {
    pub name: &'static str,
    pub ops: &'static [Op],
    pub apply: fn(&mut Q, Op, String) -> Result<(), ApiError>,
}

/// The fields of one List's filter.
pub struct Schema<Q: 'static>(pub &'static [Field<Q>]);

impl<Q> Schema<Q> {
    /// Parses `filter` and narrows `query` by each comparison in turn.
    pub fn apply(&self, filter: &str, query: &mut Q) -> Result<(), ApiError> {
        for term in parse(filter)? {
            let Some(field) = self.0.iter().find(|f| f.name == term.field) else {
                return Err(invalid(format!(
                    "unknown field {}; use {}",
                    term.field,
                    self.listing()
                )));
            };
            let value = term.expect_op(field.ops)?.to_owned();
            (field.apply)(query, term.op, value)?;
        }
        Ok(())
    }

    /// The field names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.name).collect()
    }

    /// "a, b or c".
    fn listing(&self) -> String {
        match self.names().split_last() {
            None => "no field".to_owned(),
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        }
    }
}

/// A filter value naming a proto enum's value (`from_name` is prost's
/// `from_str_name`), never its UNSPECIFIED default.
pub fn enum_value<E: PartialEq + Default>(
    what: &str,
    value: &str,
    from_name: fn(&str) -> Option<E>,
) -> Result<E, ApiError> {
    from_name(value)
        .filter(|e| *e != E::default())
        .ok_or_else(|| invalid(format!("unknown {what} {value}")))
}

/// The fields a `filter` comment documents: each `` `name` `` followed by
/// ` (` after "Fields:" (as the requests' comments write them).
pub fn documented_fields(comment: &str) -> Vec<String> {
    let Some((_, fields)) = comment.split_once("Fields:") else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut rest = fields;
    while let Some(start) = rest.find('`') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('`') else { break };
        let name = &after[..end];
        rest = &after[end + 1..];
        if rest
            .trim_start_matches(char::is_whitespace)
            .starts_with('(')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        {
            names.push(name.to_owned());
        }
    }
    names
}

/// The leading comment of field `field` of message `message` (its full
/// name, e.g. `fiveledger.issues.v1.ListProblemsRequest`) in the API's
/// descriptor set.
pub fn field_comment(message: &str, field: &str) -> Option<String> {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(fiveledger_proto::FILE_DESCRIPTOR_SET).ok()?;
    for file in &set.file {
        let package = file.package();
        for (m, descriptor) in file.message_type.iter().enumerate() {
            if format!("{package}.{}", descriptor.name()) != message {
                continue;
            }
            let f = descriptor.field.iter().position(|x| x.name() == field)?;
            // Source paths: 4 = message_type, 2 = field.
            let path = [4, m as i32, 2, f as i32];
            return file
                .source_code_info
                .as_ref()?
                .location
                .iter()
                .find(|l| l.path == path)
                .map(|l| l.leading_comments().to_owned());
        }
    }
    None
}

fn invalid(description: impl Into<String>) -> ApiError {
    ApiError::invalid("filter", CommonReason::InvalidFilter, description)
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

    #[derive(Default, Debug, PartialEq)]
    struct Q {
        colour: Option<String>,
        count: Option<i64>,
    }

    const SCHEMA: Schema<Q> = Schema(&[
        Field {
            name: "colour",
            ops: EQ,
            apply: |q, _, v| {
                q.colour = Some(v);
                Ok(())
            },
        },
        Field {
            name: "count",
            ops: &[Op::Eq, Op::Gt],
            apply: |q, _, v| {
                q.count = Some(v.parse().map_err(|_| invalid("count is a number"))?);
                Ok(())
            },
        },
    ]);

    #[test]
    fn a_schema_narrows_by_its_fields_and_names_them_when_one_is_unknown() {
        let mut q = Q::default();
        SCHEMA
            .apply(r#"colour = "red" AND count > 3"#, &mut q)
            .expect("applies");
        assert_eq!(
            q,
            Q {
                colour: Some("red".into()),
                count: Some(3)
            }
        );
        let err = SCHEMA
            .apply("shape = round", &mut Q::default())
            .unwrap_err();
        assert!(err.to_string().contains("use colour or count"), "{err}");
        let err = SCHEMA.apply("colour > red", &mut Q::default()).unwrap_err();
        assert!(err.to_string().contains("not supported on colour"), "{err}");
        assert!(SCHEMA.apply("count = x", &mut Q::default()).is_err());
    }

    #[test]
    fn documented_fields_are_read_from_a_comment() {
        let comment = " Filter (AIP-160 subset). Fields:\n `inspection` (=), `frozen` (= true|false),\n                        `responsible` (= an organisation name) with `responsibility` (= 1|2).\n";
        assert_eq!(
            documented_fields(comment),
            ["inspection", "frozen", "responsible", "responsibility"]
        );
        assert!(documented_fields("no list here").is_empty());
        let problems = field_comment("fiveledger.issues.v1.ListProblemsRequest", "filter")
            .expect("the descriptor set keeps comments");
        assert!(documented_fields(&problems).contains(&"inspection".to_owned()));
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

//! PostgreSQL's COPY for the bulk loads: a batch of a sea-orm entity's
//! rows sent as one stream in COPY's text format. A multi-row INSERT is
//! parsed, planned and bound parameter by parameter (20 columns × 500 rows a
//! statement); COPY only parses each field.

use std::fmt::Write as _;

use sea_orm::sqlx::PgPool;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{EntityTrait, IdenStatic, Iterable, ModelTrait, Value};

/// Copies `rows` into `E`'s table (every column of the model, in the
/// model's order); returns the rows PostgreSQL took. Each call commits on
/// its own, as an INSERT outside a transaction would.
pub async fn copy_in<E: EntityTrait>(pool: &PgPool, rows: &[E::Model]) -> anyhow::Result<u64> {
    let columns: Vec<E::Column> = E::Column::iter().collect();
    let names = columns
        .iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = String::with_capacity(rows.len() * 512);
    for row in rows {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                text.push('\t');
            }
            field(&mut text, row.get(*column))?;
        }
        text.push('\n');
    }
    let mut copy = pool
        .copy_in_raw(&format!(
            "COPY \"{}\" ({names}) FROM STDIN",
            E::default().table_name()
        ))
        .await?;
    copy.send(text.into_bytes()).await?;
    Ok(copy.finish().await?)
}

/// One value in COPY's text format: `\N` for NULL, a backslash escaping
/// itself and the separators, bytea as `\\x` and hex.
fn field(out: &mut String, value: Value) -> anyhow::Result<()> {
    match value {
        Value::String(Some(s)) => {
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Value::Int(Some(n)) => write!(out, "{n}")?,
        Value::BigInt(Some(n)) => write!(out, "{n}")?,
        Value::SmallInt(Some(n)) => write!(out, "{n}")?,
        Value::Bool(Some(b)) => out.push(if b { 't' } else { 'f' }),
        Value::Bytes(Some(bytes)) => {
            out.push_str("\\\\x");
            for b in bytes {
                write!(out, "{b:02x}")?;
            }
        }
        Value::String(None)
        | Value::Int(None)
        | Value::BigInt(None)
        | Value::SmallInt(None)
        | Value::Bool(None)
        | Value::Bytes(None) => out.push_str("\\N"),
        other => anyhow::bail!("the bench's COPY has no text form for {other:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped_as_copy_reads_them() {
        let mut out = String::new();
        for value in [
            Value::String(Some("a\tb\\c\nd".into())),
            Value::BigInt(Some(-7)),
            Value::Bytes(Some(vec![0, 0xab])),
            Value::String(None),
            Value::Bool(Some(true)),
        ] {
            field(&mut out, value).unwrap();
            out.push('|');
        }
        assert_eq!(out, "a\\tb\\\\c\\nd|-7|\\\\x00ab|\\N|t|");
        assert!(field(&mut out, Value::Double(Some(1.5))).is_err());
    }
}

//! Listings as CSV (`"format": "csv"` on `list-audit`, `statement` and `list-movements`):
//! one row per object of the JSON answer, one column per field, in the first object's
//! field order. RFC 4180 quoting; a cell that a spreadsheet would read as a formula is
//! prefixed with `'` (CSV injection), since notes and reasons come from outside.

use serde_json::Value;

/// The calls that answer CSV when asked.
pub const CALLS: [&str; 3] = ["list-audit", "statement", "list-movements"];

/// `rows` (a JSON array of objects) as CSV with a header line; `None` if it is not one.
pub fn to_csv(rows: &Value) -> Option<String> {
    let rows = rows.as_array()?;
    let columns: Vec<String> = match rows.first() {
        Some(first) => first.as_object()?.keys().cloned().collect(),
        None => Vec::new(),
    };
    let mut out = String::new();
    line(&mut out, columns.iter().map(String::as_str));
    for row in rows {
        let row = row.as_object()?;
        let cells: Vec<String> = columns
            .iter()
            .map(|c| match row.get(c) {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            })
            .collect();
        line(&mut out, cells.iter().map(String::as_str));
    }
    Some(out)
}

fn line<'a>(out: &mut String, cells: impl Iterator<Item = &'a str>) {
    let cells: Vec<String> = cells.map(cell).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

fn cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_quote_and_defuse_what_they_must() {
        let rows = json!([
            { "id": "a", "note": "plain", "delta": -5 },
            { "id": "b", "note": "has, comma and \"quotes\"", "delta": 7 },
            { "id": "c", "note": "=HYPERLINK(\"x\")", "delta": null },
        ]);
        assert_eq!(
            to_csv(&rows).unwrap(),
            "id,note,delta\r\na,plain,-5\r\nb,\"has, comma and \"\"quotes\"\"\",7\r\nc,\"'=HYPERLINK(\"\"x\"\")\",\r\n"
        );
        assert_eq!(to_csv(&json!([])).unwrap(), "\r\n");
        assert_eq!(to_csv(&json!({ "error": {} })), None);
    }
}

//! The node's JSON form of transactions, both directions.
//!
//! Reading accepts 64-bit integers as JSON numbers or as decimal strings, since nodes
//! write both. Writing follows the node: integers above 2^32 − 1 become strings, so no
//! JavaScript client rounds them.

use core::fmt;

use serde_json::{json, Map, Value};

use crate::error::{hex_array, CodecError, FieldProblem, Result};
use crate::keys::PublicKey;
use crate::ops::*;

/// Where a value sits in the document. Spelled out only when an error names it: parsing
/// a transaction looks up some forty fields, and formatting each path was a tenth of it.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(Path::Root(""), name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl<'a> Path<'a> {
    fn field(&'a self, name: &'a str) -> Path<'a> {
        Path::Field(self, name)
    }
    fn index(&'a self, i: usize) -> Path<'a> {
        Path::Index(self, i)
    }
    fn error(&self, problem: FieldProblem, detail: impl Into<String>) -> CodecError {
        CodecError::field(&self.to_string(), problem, detail)
    }
}

/// The member `name` of `obj`, required; `at` is the member's own path.
fn member<'v>(obj: &'v Value, at: &Path<'_>) -> Result<&'v Value> {
    let Path::Field(_, name) = at else { unreachable!("a member's path ends in its name") };
    match obj.get(*name) {
        Some(Value::Null) | None => Err(at.error(FieldProblem::Missing, "is required")),
        Some(v) => Ok(v),
    }
}

fn wrong_type(path: &Path<'_>, expected: &str) -> CodecError {
    path.error(FieldProblem::WrongType, format!("expected {expected}"))
}

/// An integer given as a number or a decimal string, as a node may write it.
pub fn int_u64(v: &Value, path: &str) -> Result<u64> {
    u64_at(v, &Path::Root(path))
}

fn u64_at(v: &Value, path: &Path<'_>) -> Result<u64> {
    let out_of_range = || path.error(FieldProblem::OutOfRange, "is not an integer in 0..=2^64-1");
    match v {
        Value::Number(n) => n.as_u64().ok_or_else(out_of_range),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| out_of_range())
        }
        Value::String(_) => Err(out_of_range()),
        _ => Err(wrong_type(path, "an integer (number or decimal string)")),
    }
}

pub fn int_i64(v: &Value, path: &str) -> Result<i64> {
    i64_at(v, &Path::Root(path))
}

fn i64_at(v: &Value, path: &Path<'_>) -> Result<i64> {
    let out_of_range = || path.error(FieldProblem::OutOfRange, "is not an integer in the signed 64-bit range");
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(out_of_range),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(out_of_range());
            }
            s.parse().map_err(|_| out_of_range())
        }
        _ => Err(wrong_type(path, "an integer (number or decimal string)")),
    }
}

/// A required integer member that must fit `T`.
fn narrow_member<T: TryFrom<u64>>(obj: &Value, at: &Path<'_>) -> Result<T> {
    let v = u64_at(member(obj, at)?, at)?;
    T::try_from(v).map_err(|_| at.error(FieldProblem::OutOfRange, format!("{v} does not fit")))
}

/// Writes an integer as the node does.
pub fn write_u64(v: u64) -> Value {
    if v > u32::MAX as u64 { Value::String(v.to_string()) } else { json!(v) }
}

/// A signed 64-bit value as fc writes it: a string outside the range of an `int32_t`
/// (bitshares-fc json.cpp `to_stream`, `stringify_large_ints_and_doubles`).
pub fn write_i64(v: i64) -> Value {
    if i32::try_from(v).is_err() { Value::String(v.to_string()) } else { json!(v) }
}

fn string<'v>(v: &'v Value, path: &Path<'_>) -> Result<&'v str> {
    v.as_str().ok_or_else(|| wrong_type(path, "a string"))
}

/// Parses `space.type.N` with the given space and type.
pub fn object_id(v: &Value, path: &str, space: u64, kind: u64) -> Result<u64> {
    object_id_at(v, &Path::Root(path), space, kind)
}

fn object_id_at(v: &Value, path: &Path<'_>, space: u64, kind: u64) -> Result<u64> {
    let text = string(v, path)?;
    let bad = || path.error(FieldProblem::BadObjectId, format!("expected an id {space}.{kind}.N, found {text:?}"));
    let mut parts = text.split('.');
    let (Some(s), Some(t), Some(n), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !(digits(s) && digits(t) && digits(n)) || s.parse::<u64>().ok() != Some(space) || t.parse::<u64>().ok() != Some(kind) {
        return Err(bad());
    }
    n.parse().map_err(|_| bad())
}

pub fn account_id(v: &Value, path: &str) -> Result<AccountId> {
    object_id(v, path, 1, 2).map(AccountId)
}

fn account_member(obj: &Value, at: &Path<'_>) -> Result<AccountId> {
    object_id_at(member(obj, at)?, at, 1, 2).map(AccountId)
}

fn asset_member(obj: &Value, at: &Path<'_>) -> Result<Asset> {
    let v = member(obj, at)?;
    let (amount, asset_id) = (at.field("amount"), at.field("asset_id"));
    Ok(Asset {
        amount: i64_at(member(v, &amount)?, &amount)?,
        asset_id: AssetId(object_id_at(member(v, &asset_id)?, &asset_id, 1, 3)?),
    })
}

fn public_key_member(obj: &Value, at: &Path<'_>) -> Result<PublicKey> {
    string(member(obj, at)?, at)?.parse::<PublicKey>().map_err(|e| e.at(&at.to_string()))
}

/// A memo object: `from` and `to` keys, `nonce`, `message` (hex).
pub fn memo(v: &Value, path: &str) -> Result<Memo> {
    memo_at(v, &Path::Root(path))
}

fn memo_at(v: &Value, path: &Path<'_>) -> Result<Memo> {
    let (nonce, message) = (path.field("nonce"), path.field("message"));
    Ok(Memo {
        from: public_key_member(v, &path.field("from"))?,
        to: public_key_member(v, &path.field("to"))?,
        nonce: u64_at(member(v, &nonce)?, &nonce)?,
        message: {
            let text = string(member(v, &message)?, &message)?;
            hex::decode(text).map_err(|_| CodecError::Hex { field: message.to_string() })?
        },
    })
}

fn empty_extensions(v: &Value, path: &Path<'_>) -> Result<()> {
    match v.get("extensions") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(a)) if a.is_empty() => Ok(()),
        Some(Value::Array(_)) => Err(path.field("extensions").error(FieldProblem::UnsupportedExtension, "extensions are not supported")),
        Some(_) => Err(wrong_type(&path.field("extensions"), "an array")),
    }
}

/// Parses `[op_id, {…}]`.
pub fn operation(v: &Value, path: &str) -> Result<Operation> {
    operation_at(v, &Path::Root(path))
}

fn operation_at(v: &Value, path: &Path<'_>) -> Result<Operation> {
    let pair = v.as_array().filter(|a| a.len() == 2).ok_or_else(|| wrong_type(path, "[operation id, operation object]"))?;
    let id = u64_at(&pair[0], &path.index(0))?;
    let body = &pair[1];
    let p = path.index(1);
    if !body.is_object() {
        return Err(wrong_type(&p, "an object"));
    }
    let op = match id {
        OP_TRANSFER => {
            empty_extensions(body, &p)?;
            Operation::Transfer(Transfer {
                fee: asset_member(body, &p.field("fee"))?,
                from: account_member(body, &p.field("from"))?,
                to: account_member(body, &p.field("to"))?,
                amount: asset_member(body, &p.field("amount"))?,
                memo: match body.get("memo") {
                    None | Some(Value::Null) => None,
                    Some(m) => Some(memo_at(m, &p.field("memo"))?),
                },
            })
        }
        OP_SEND_MESSAGE => Operation::SendMessage(SendMessage {
            fee: asset_member(body, &p.field("fee"))?,
            from: account_member(body, &p.field("from"))?,
            to: account_member(body, &p.field("to"))?,
            memo: {
                let at = p.field("memo");
                memo_at(member(body, &at)?, &at)?
            },
        }),
        other => {
            return Err(path.index(0).error(
                FieldProblem::UnknownOperation,
                format!("operation {other} is not supported (only 0 transfer and 61 send_message)"),
            ))
        }
    };
    op.validate(p)?;
    Ok(op)
}

/// Parses a transaction; `signatures` is optional (absent for an unsigned one).
pub fn transaction(v: &Value) -> Result<SignedTransaction> {
    let root = Path::Root("");
    if !v.is_object() {
        return Err(wrong_type(&Path::Root("transaction"), "an object"));
    }
    let at = root.field("operations");
    let ops = member(v, &at)?.as_array().ok_or_else(|| wrong_type(&at, "an array"))?;
    let operations = ops.iter().enumerate().map(|(i, op)| operation_at(op, &at.index(i))).collect::<Result<Vec<_>>>()?;
    empty_extensions(v, &root)?;
    let expiration = root.field("expiration");
    let tx = Transaction {
        ref_block_num: narrow_member(v, &root.field("ref_block_num"))?,
        ref_block_prefix: narrow_member(v, &root.field("ref_block_prefix"))?,
        expiration: parse_time(string(member(v, &expiration)?, &expiration)?, "expiration")?,
        operations,
    };
    tx.validate()?;
    let signatures = match v.get("signatures") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => {
            let at = root.field("signatures");
            list.iter()
                .enumerate()
                .map(|(i, s)| {
                    let path = at.index(i);
                    hex_array::<65>(&path.to_string(), string(s, &path)?)
                })
                .collect::<Result<_>>()?
        }
        Some(_) => return Err(wrong_type(&root.field("signatures"), "an array")),
    };
    Ok(SignedTransaction { tx, signatures })
}

/// Parses transaction JSON text.
pub fn transaction_from_str(text: &str) -> Result<SignedTransaction> {
    let v: Value = serde_json::from_str(text).map_err(|e| CodecError::Json { detail: e.to_string() })?;
    transaction(&v)
}

fn write_asset(a: &Asset) -> Value {
    json!({ "amount": write_i64(a.amount), "asset_id": format!("1.3.{}", a.asset_id.0) })
}

fn write_memo(m: &Memo) -> Value {
    json!({
        "from": m.from.to_string(),
        "to": m.to.to_string(),
        "nonce": write_u64(m.nonce),
        "message": hex::encode(&m.message),
    })
}

pub fn write_operation(op: &Operation) -> Value {
    let body = match op {
        Operation::Transfer(t) => {
            let mut o = Map::new();
            o.insert("fee".into(), write_asset(&t.fee));
            o.insert("from".into(), json!(format!("1.2.{}", t.from.0)));
            o.insert("to".into(), json!(format!("1.2.{}", t.to.0)));
            o.insert("amount".into(), write_asset(&t.amount));
            if let Some(m) = &t.memo {
                o.insert("memo".into(), write_memo(m));
            }
            o.insert("extensions".into(), json!([]));
            Value::Object(o)
        }
        Operation::SendMessage(m) => json!({
            "fee": write_asset(&m.fee),
            "from": format!("1.2.{}", m.from.0),
            "to": format!("1.2.{}", m.to.0),
            "memo": write_memo(&m.memo),
        }),
    };
    json!([op.id(), body])
}

/// The transaction as `broadcast_transaction` takes it.
pub fn write_transaction(st: &SignedTransaction) -> Value {
    json!({
        "ref_block_num": st.tx.ref_block_num,
        "ref_block_prefix": st.tx.ref_block_prefix,
        "expiration": format_time(st.tx.expiration),
        "operations": st.tx.operations.iter().map(write_operation).collect::<Vec<_>>(),
        "extensions": [],
        "signatures": st.signatures.iter().map(hex::encode).collect::<Vec<_>>(),
    })
}

/// The text of [`write_transaction`], byte for byte, written straight into one buffer:
/// no `Value` tree, no formatting machinery. Nothing needs escaping: every string is
/// one we made (ids, a time, `CWD…` keys and hex).
pub fn transaction_text(st: &SignedTransaction) -> String {
    let mut w = Text(Vec::with_capacity(640));
    w.raw("{\"ref_block_num\":");
    w.uint(st.tx.ref_block_num as u64);
    w.raw(",\"ref_block_prefix\":");
    w.uint(st.tx.ref_block_prefix as u64);
    w.raw(",\"expiration\":\"");
    w.time(st.tx.expiration);
    w.raw("\",\"operations\":[");
    for (i, op) in st.tx.operations.iter().enumerate() {
        if i > 0 {
            w.raw(",");
        }
        w.operation(op);
    }
    w.raw("],\"extensions\":[],\"signatures\":[");
    for (i, sig) in st.signatures.iter().enumerate() {
        w.raw(if i > 0 { ",\"" } else { "\"" });
        w.hex(sig);
        w.raw("\"");
    }
    w.raw("]}");
    String::from_utf8(w.0).expect("only ASCII is written")
}

/// Lowercase hex, as [`hex::encode`] writes it.
pub fn hex_text(bytes: &[u8]) -> String {
    let mut w = Text(Vec::with_capacity(bytes.len() * 2));
    w.hex(bytes);
    String::from_utf8(w.0).expect("hex is ASCII")
}

struct Text(Vec<u8>);

impl Text {
    fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
    fn uint(&mut self, v: u64) {
        self.raw(itoa::Buffer::new().format(v));
    }
    /// As [`write_u64`]: a string above 2^32 − 1.
    fn u64_value(&mut self, v: u64) {
        if v > u32::MAX as u64 {
            self.raw("\"");
            self.uint(v);
            self.raw("\"");
        } else {
            self.uint(v);
        }
    }
    /// As [`write_i64`]: a string outside the `int32_t` range.
    fn i64_value(&mut self, v: i64) {
        let mut digits = itoa::Buffer::new();
        let text = digits.format(v);
        if i32::try_from(v).is_err() {
            self.raw("\"");
            self.raw(text);
            self.raw("\"");
        } else {
            self.raw(text);
        }
    }
    fn hex(&mut self, bytes: &[u8]) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.0.reserve(bytes.len() * 2);
        for b in bytes {
            self.0.push(DIGITS[(b >> 4) as usize]);
            self.0.push(DIGITS[(b & 15) as usize]);
        }
    }
    fn time(&mut self, secs: u32) {
        let (y, m, d) = civil_from_days(secs as i64 / 86400);
        let rem = secs % 86400;
        let two = |w: &mut Text, v: u32| w.0.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]);
        let y = y as u32; // 1970..=2106 for a u32 of seconds
        two(self, y / 100);
        two(self, y % 100);
        self.raw("-");
        two(self, m);
        self.raw("-");
        two(self, d);
        self.raw("T");
        two(self, rem / 3600);
        self.raw(":");
        two(self, rem % 3600 / 60);
        self.raw(":");
        two(self, rem % 60);
    }
    fn id(&mut self, prefix: &str, n: u64) {
        self.raw("\"");
        self.raw(prefix);
        self.uint(n);
        self.raw("\"");
    }
    fn asset(&mut self, a: &Asset) {
        self.raw("{\"amount\":");
        self.i64_value(a.amount);
        self.raw(",\"asset_id\":");
        self.id("1.3.", a.asset_id.0);
        self.raw("}");
    }
    fn key(&mut self, k: &PublicKey) {
        self.raw("\"");
        k.with_text(|text| self.raw(text));
        self.raw("\"");
    }
    fn memo(&mut self, m: &Memo) {
        self.raw("{\"from\":");
        self.key(&m.from);
        self.raw(",\"to\":");
        self.key(&m.to);
        self.raw(",\"nonce\":");
        self.u64_value(m.nonce);
        self.raw(",\"message\":\"");
        self.hex(&m.message);
        self.raw("\"}");
    }
    fn operation(&mut self, op: &Operation) {
        self.raw("[");
        self.uint(op.id());
        self.raw(",{\"fee\":");
        self.asset(op.fee());
        let (from, to) = match op {
            Operation::Transfer(t) => (t.from, t.to),
            Operation::SendMessage(m) => (m.from, m.to),
        };
        self.raw(",\"from\":");
        self.id("1.2.", from.0);
        self.raw(",\"to\":");
        self.id("1.2.", to.0);
        match op {
            Operation::Transfer(t) => {
                self.raw(",\"amount\":");
                self.asset(&t.amount);
                if let Some(m) = &t.memo {
                    self.raw(",\"memo\":");
                    self.memo(m);
                }
                self.raw(",\"extensions\":[]}]");
            }
            Operation::SendMessage(m) => {
                self.raw(",\"memo\":");
                self.memo(&m.memo);
                self.raw("}]");
            }
        }
    }
}

// Days from 1970-01-01 to a civil date and back (Howard Hinnant's algorithms).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// Parses the node's time form `YYYY-MM-DDTHH:MM:SS` (UTC) to Unix seconds.
pub fn parse_time(text: &str, path: &str) -> Result<u32> {
    let bad = || CodecError::field(path, FieldProblem::BadTime, format!("expected YYYY-MM-DDTHH:MM:SS (UTC), found {text:?}"));
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |r: core::ops::Range<usize>| -> Result<u32> {
        let s = &text[r];
        if s.bytes().all(|c| c.is_ascii_digit()) { s.parse().map_err(|_| bad()) } else { Err(bad()) }
    };
    let (y, mo, d, h, mi, s) = (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let month_days = [31, if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d == 0 || d > month_days[mo as usize - 1] || h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    let secs = days_from_civil(y as i64, mo, d) * 86400 + (h * 3600 + mi * 60 + s) as i64;
    u32::try_from(secs).map_err(|_| bad())
}

/// Formats Unix seconds as the node writes times.
pub fn format_time(secs: u32) -> String {
    let days = secs as i64 / 86400;
    let rem = secs as i64 % 86400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn integers_are_written_as_fc_writes_them() {
        // int64 (amounts): a string outside int32; uint64: a string above uint32.
        assert_eq!(super::write_i64(2_147_483_647), json!(2_147_483_647));
        assert_eq!(super::write_i64(2_147_483_648), json!("2147483648"));
        assert_eq!(super::write_i64(-2_147_483_648), json!(-2_147_483_648));
        assert_eq!(super::write_i64(-2_147_483_649), json!("-2147483649"));
        assert_eq!(super::write_u64(4_294_967_295), json!(4_294_967_295u64));
        assert_eq!(super::write_u64(4_294_967_296), json!("4294967296"));
    }

    use super::*;

    #[test]
    fn integers_and_hex_in_text_as_in_values() {
        for v in [0i64, 1, -1, i32::MAX as i64, i32::MAX as i64 + 1, i32::MIN as i64, i32::MIN as i64 - 1, i64::MAX, i64::MIN] {
            let mut w = Text(Vec::new());
            w.i64_value(v);
            assert_eq!(String::from_utf8(w.0).unwrap(), write_i64(v).to_string(), "{v}");
        }
        for v in [0u64, 1, u32::MAX as u64, u32::MAX as u64 + 1, u64::MAX] {
            let mut w = Text(Vec::new());
            w.u64_value(v);
            assert_eq!(String::from_utf8(w.0).unwrap(), write_u64(v).to_string(), "{v}");
        }
        for secs in [0u32, 59, 86_399, 951_782_400, 1_782_592_582, u32::MAX] {
            let mut w = Text(Vec::new());
            w.time(secs);
            assert_eq!(String::from_utf8(w.0).unwrap(), format_time(secs));
        }
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_text(&bytes), hex::encode(&bytes));
    }

    #[test]
    fn time_round_trips() {
        assert_eq!(parse_time("1970-01-01T00:00:00", "t").unwrap(), 0);
        assert_eq!(parse_time("2026-06-27T20:36:22", "t").unwrap(), 1_782_592_582);
        for secs in [0u32, 59, 86_399, 951_782_400, 1_782_592_582, u32::MAX] {
            assert_eq!(parse_time(&format_time(secs), "t").unwrap(), secs);
        }
        for bad in ["2026-02-30T00:00:00", "2026-13-01T00:00:00", "2026-06-27 20:36:22", "2026-06-27T20:36:2x", "2106-12-31T00:00:00"] {
            assert!(matches!(parse_time(bad, "t"), Err(CodecError::Field { problem: FieldProblem::BadTime, .. })), "{bad}");
        }
    }

    #[test]
    fn integers_as_numbers_or_strings() {
        assert_eq!(int_u64(&json!(5), "x").unwrap(), 5);
        assert_eq!(int_u64(&json!("18446744073709551615"), "x").unwrap(), u64::MAX);
        assert!(int_u64(&json!("18446744073709551616"), "x").is_err());
        assert!(int_u64(&json!("-1"), "x").is_err());
        assert!(int_u64(&json!(" 1"), "x").is_err());
        assert!(int_u64(&json!(1.5), "x").is_err());
        assert!(matches!(int_u64(&json!(true), "x"), Err(CodecError::Field { problem: FieldProblem::WrongType, .. })));
        assert_eq!(int_i64(&json!("-7100000000"), "x").unwrap(), -7_100_000_000);
        assert_eq!(write_u64(7_100_000_000), json!("7100000000"));
        assert_eq!(write_u64(4_294_967_295), json!(4_294_967_295u64));
    }

    #[test]
    fn object_ids_are_strict() {
        assert_eq!(account_id(&json!("1.2.743412"), "a").unwrap(), AccountId(743412));
        for bad in ["1.3.5", "1.2", "1.2.x", "1.2.5.6", "1.2.", "01.2.5x", ""] {
            assert!(matches!(account_id(&json!(bad), "a"), Err(CodecError::Field { problem: FieldProblem::BadObjectId, .. })), "{bad}");
        }
    }
}

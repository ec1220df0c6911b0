//! The policy: a pure function from a request, the clock and the signer's own record of
//! what it already signed to a decision. It does no I/O itself: the record is read
//! through [`Ledger`], so the rules are tested without a store.

use core::fmt;

use cwd_codec::ops::{AccountId, Operation, Transaction, CORE_ASSET};
use cwd_codec::{CodecError, FieldProblem};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The rolling window of the daily limits.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The `[policy]` section of `signer.toml`. Amounts are CWD base units (5 decimals:
/// 100000 = 1 CWD).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Amount + fee of one transaction (sweeps to the cold account exempt).
    pub max_per_transaction: u64,
    /// Amount + fee of everything signed in the last 24 h (sweeps exempt).
    pub max_per_day: u64,
    /// Transfer amounts to one account in the last 24 h (sweeps exempt).
    pub max_per_destination_per_day: u64,
    /// The fee of one operation, sweeps included.
    pub max_fee: u64,
    /// How far past the signer's clock a transaction may expire.
    pub max_expiration_secs: u64,
}

/// Everything [`decide`] needs from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub chain_id: [u8; 32],
    /// The gateway account: every operation must be from it (it pays the fee).
    pub account: AccountId,
    /// Transfers to it are sweeps: only the structural and fee rules apply to them.
    pub cold_account: Option<AccountId>,
    pub limits: Limits,
}

/// The rule a refusal names; [`Rule::as_str`] is its machine-readable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    WrongChain,
    Unreadable,
    OperationNotAllowed,
    OneOperationOnly,
    WrongAccount,
    NotCwd,
    FeeTooHigh,
    Expiration,
    PerTransaction,
    DailyTotal,
    DestinationDailyTotal,
}

impl Rule {
    /// In the order of the enum (`rule as usize` indexes it).
    pub const ALL: [Rule; 11] = [
        Rule::WrongChain,
        Rule::Unreadable,
        Rule::OperationNotAllowed,
        Rule::OneOperationOnly,
        Rule::WrongAccount,
        Rule::NotCwd,
        Rule::FeeTooHigh,
        Rule::Expiration,
        Rule::PerTransaction,
        Rule::DailyTotal,
        Rule::DestinationDailyTotal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::WrongChain => "wrong-chain",
            Rule::Unreadable => "unreadable",
            Rule::OperationNotAllowed => "operation-not-allowed",
            Rule::OneOperationOnly => "one-operation-only",
            Rule::WrongAccount => "wrong-account",
            Rule::NotCwd => "not-cwd",
            Rule::FeeTooHigh => "fee-too-high",
            Rule::Expiration => "expiration",
            Rule::PerTransaction => "per-transaction",
            Rule::DailyTotal => "daily-total",
            Rule::DestinationDailyTotal => "destination-daily-total",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the signer could read of a request, for its log. The digest and id are of the
/// bytes as sent, so even an unreadable request can be told apart from another.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// sha256(chain id ‖ bytes): what is signed.
    pub digest: [u8; 32],
    /// The first 20 bytes of sha256(bytes): the transaction id on chain.
    pub tx_id: [u8; 20],
    /// `transfer`, `send_message`, `operation N`, or several joined by commas.
    pub operation: Option<String>,
    pub from: Option<AccountId>,
    pub to: Option<AccountId>,
    /// Transfers only.
    pub amount: Option<i64>,
    pub fee: Option<i64>,
    pub expiration: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Sign it. `spend` is amount + fee; a sweep's does not count towards the limits.
    Sign {
        facts: Facts,
        spend: u64,
        sweep: bool,
    },
    /// Signed before: hand out the same signature, count nothing.
    Repeat {
        facts: Facts,
        signature: [u8; 65],
    },
    Refuse {
        facts: Facts,
        rule: Rule,
        reason: String,
    },
}

impl Decision {
    pub fn facts(&self) -> &Facts {
        match self {
            Decision::Sign { facts, .. } | Decision::Repeat { facts, .. } | Decision::Refuse { facts, .. } => facts,
        }
    }
}

/// The signer's record of what it signed, as [`decide`] asks it. Sums are `u128` so
/// that no record, however large, overflows them.
pub trait Ledger {
    type Error;
    /// The signature given for `digest` before, if any.
    fn signature_of(&self, digest: &[u8; 32]) -> Result<Option<[u8; 65]>, Self::Error>;
    /// Amount + fee of everything but sweeps signed at a time after `since_ms`.
    fn spent_since(&self, since_ms: u64) -> Result<u128, Self::Error>;
    /// Transfer amounts (sweeps excluded) to `to` signed at a time after `since_ms`.
    fn sent_to_since(&self, to: AccountId, since_ms: u64) -> Result<u128, Self::Error>;
}

/// Decides whether to sign `transaction` (packed, unsigned) for `chain_id` at `now_ms`
/// (Unix milliseconds). Only a failing [`Ledger`] is an error; every refusal is a
/// [`Decision::Refuse`].
pub fn decide<L: Ledger>(
    policy: &Policy,
    chain_id: &[u8; 32],
    transaction: &[u8],
    now_ms: u64,
    ledger: &L,
) -> Result<Decision, L::Error> {
    let mut facts = Facts {
        digest: digest_of(chain_id, transaction),
        tx_id: id_of(transaction),
        ..Facts::default()
    };
    let refuse = |facts: Facts, rule: Rule, reason: String| Ok(Decision::Refuse { facts, rule, reason });
    let limits = &policy.limits;

    if chain_id != &policy.chain_id {
        let reason = format!(
            "chain {} is not the signer's chain {}",
            hex::encode(chain_id),
            hex::encode(policy.chain_id)
        );
        return refuse(facts, Rule::WrongChain, reason);
    }
    let tx = match Transaction::from_bytes(transaction) {
        Ok(tx) => tx,
        Err(CodecError::Field {
            problem: FieldProblem::UnknownOperation,
            detail,
            ..
        }) => {
            let reason = format!("{detail} is not allowed: only transfer and send_message");
            facts.operation = Some(detail);
            return refuse(facts, Rule::OperationNotAllowed, reason);
        }
        Err(e) => {
            return refuse(
                facts,
                Rule::Unreadable,
                format!("not a packed transaction the signer can read: {e}"),
            )
        }
    };
    facts.expiration = Some(tx.expiration);
    if tx.operations.len() != 1 {
        let names: Vec<&str> = tx.operations.iter().map(operation_name).collect();
        facts.operation = Some(names.join(","));
        let reason = format!(
            "{} operations: the signer signs one operation per transaction",
            names.len()
        );
        return refuse(facts, Rule::OneOperationOnly, reason);
    }
    let op = &tx.operations[0];
    let (from, to, amount, fee) = match op {
        Operation::Transfer(t) => (t.from, t.to, Some(t.amount), t.fee),
        Operation::SendMessage(m) => (m.from, m.to, None, m.fee),
    };
    facts.operation = Some(operation_name(op).to_string());
    facts.from = Some(from);
    facts.to = Some(to);
    facts.amount = amount.map(|a| a.amount);
    facts.fee = Some(fee.amount);

    if from != policy.account {
        let reason = format!(
            "the operation is from {}: the signer signs only for {}",
            account(from),
            account(policy.account)
        );
        return refuse(facts, Rule::WrongAccount, reason);
    }
    if fee.asset_id != CORE_ASSET {
        return refuse(
            facts,
            Rule::NotCwd,
            format!("the fee is in asset 1.3.{}: only CWD (1.3.0)", fee.asset_id.0),
        );
    }
    if let Some(a) = amount.filter(|a| a.asset_id != CORE_ASSET) {
        return refuse(
            facts,
            Rule::NotCwd,
            format!("the transfer is of asset 1.3.{}: only CWD (1.3.0)", a.asset_id.0),
        );
    }
    // The codec refuses negative amounts; a negative here would be a codec bug.
    let Ok(fee_units) = u64::try_from(fee.amount) else {
        return refuse(facts, Rule::Unreadable, format!("negative fee {}", fee.amount));
    };
    let amount_units = match amount.map(|a| u64::try_from(a.amount)) {
        None => 0,
        Some(Ok(units)) => units,
        Some(Err(_)) => return refuse(facts, Rule::Unreadable, "negative amount".into()),
    };
    if fee_units > limits.max_fee {
        let reason = format!(
            "fee {} is above max_fee {}",
            cwd(fee_units.into()),
            cwd(limits.max_fee.into())
        );
        return refuse(facts, Rule::FeeTooHigh, reason);
    }

    // Before the clock and the limits: handing out a signature already given is harmless.
    if let Some(signature) = ledger.signature_of(&facts.digest)? {
        return Ok(Decision::Repeat { facts, signature });
    }

    let expiration_ms = u128::from(tx.expiration) * 1000;
    let now = u128::from(now_ms);
    if expiration_ms <= now {
        let reason = format!(
            "the transaction expired at {} (the signer's clock is at {})",
            tx.expiration,
            now_ms / 1000
        );
        return refuse(facts, Rule::Expiration, reason);
    }
    if expiration_ms - now > u128::from(limits.max_expiration_secs) * 1000 {
        let reason = format!(
            "the transaction expires {} s ahead of the signer's clock; at most {} s (max_expiration_secs)",
            (expiration_ms - now).div_ceil(1000),
            limits.max_expiration_secs
        );
        return refuse(facts, Rule::Expiration, reason);
    }

    // Both are at most i64::MAX: the sum fits in u64.
    let spend = amount_units + fee_units;
    let is_transfer = amount.is_some();
    if is_transfer && policy.cold_account == Some(to) {
        return Ok(Decision::Sign {
            facts,
            spend,
            sweep: true,
        });
    }
    if spend > limits.max_per_transaction {
        let reason = format!(
            "amount + fee {} is above max_per_transaction {}",
            cwd(spend.into()),
            cwd(limits.max_per_transaction.into())
        );
        return refuse(facts, Rule::PerTransaction, reason);
    }
    let since = now_ms.saturating_sub(DAY_MS);
    let spent = ledger.spent_since(since)?;
    let day_total = spent.saturating_add(spend.into());
    if day_total > limits.max_per_day.into() {
        let reason = format!(
            "{} signed in the last 24 h; {} more would pass max_per_day {}",
            cwd(spent),
            cwd(spend.into()),
            cwd(limits.max_per_day.into())
        );
        return refuse(facts, Rule::DailyTotal, reason);
    }
    if is_transfer {
        let sent = ledger.sent_to_since(to, since)?;
        if sent.saturating_add(amount_units.into()) > limits.max_per_destination_per_day.into() {
            let reason = format!(
                "{} sent to {} in the last 24 h; {} more would pass max_per_destination_per_day {}",
                cwd(sent),
                account(to),
                cwd(amount_units.into()),
                cwd(limits.max_per_destination_per_day.into())
            );
            return refuse(facts, Rule::DestinationDailyTotal, reason);
        }
    }
    Ok(Decision::Sign {
        facts,
        spend,
        sweep: false,
    })
}

/// sha256(chain id ‖ bytes): equal to [`Transaction::digest`] for bytes that read.
pub fn digest_of(chain_id: &[u8; 32], transaction: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(chain_id);
    h.update(transaction);
    h.finalize().into()
}

/// The chain's transaction id of these bytes.
pub fn id_of(transaction: &[u8]) -> [u8; 20] {
    let full = Sha256::digest(transaction);
    let mut id = [0u8; 20];
    id.copy_from_slice(&full[..20]);
    id
}

pub fn operation_name(op: &Operation) -> &'static str {
    match op {
        Operation::Transfer(_) => "transfer",
        Operation::SendMessage(_) => "send_message",
    }
}

pub fn account(id: AccountId) -> String {
    format!("1.2.{}", id.0)
}

/// Base units as CWD text: `123456` → `1.23456 CWD`.
fn cwd(units: u128) -> String {
    format!("{}.{:05} CWD", units / 100_000, units % 100_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cwd_codec::keys::PrivateKey;
    use cwd_codec::ops::{Asset, AssetId, Memo, SendMessage, Transfer};
    use std::cell::RefCell;
    use std::collections::HashMap;

    const CHAIN: [u8; 32] = [0xab; 32];
    const GATEWAY: AccountId = AccountId(17);
    const COLD: AccountId = AccountId(20);
    const NOW_S: u32 = 1_700_000_000;
    const NOW_MS: u64 = NOW_S as u64 * 1000;

    fn policy() -> Policy {
        Policy {
            chain_id: CHAIN,
            account: GATEWAY,
            cold_account: Some(COLD),
            limits: Limits {
                max_per_transaction: 1_000,
                max_per_day: 5_000,
                max_per_destination_per_day: 2_000,
                max_fee: 100,
                max_expiration_secs: 3_600,
            },
        }
    }

    /// An in-memory ledger: (spent, per destination, signatures).
    #[derive(Default)]
    struct Book {
        spent: u128,
        sent: HashMap<u64, u128>,
        signed: HashMap<[u8; 32], [u8; 65]>,
        asked_since: RefCell<Vec<u64>>,
    }

    impl Ledger for Book {
        type Error = ();
        fn signature_of(&self, digest: &[u8; 32]) -> Result<Option<[u8; 65]>, ()> {
            Ok(self.signed.get(digest).copied())
        }
        fn spent_since(&self, since_ms: u64) -> Result<u128, ()> {
            self.asked_since.borrow_mut().push(since_ms);
            Ok(self.spent)
        }
        fn sent_to_since(&self, to: AccountId, _since_ms: u64) -> Result<u128, ()> {
            Ok(self.sent.get(&to.0).copied().unwrap_or(0))
        }
    }

    fn transfer_to(to: AccountId, amount: i64, fee: i64) -> Transaction {
        tx(Operation::Transfer(Transfer {
            fee: Asset::cwd(fee),
            from: GATEWAY,
            to,
            amount: Asset::cwd(amount),
            memo: None,
        }))
    }

    fn transfer(amount: i64, fee: i64) -> Transaction {
        transfer_to(AccountId(30), amount, fee)
    }

    fn tx(op: Operation) -> Transaction {
        Transaction {
            ref_block_num: 1,
            ref_block_prefix: 2,
            expiration: NOW_S + 600,
            operations: vec![op],
        }
    }

    fn message(fee: i64) -> Operation {
        let key = PrivateKey::from_bytes(&[7u8; 32]).unwrap().public_key();
        let memo = Memo {
            from: key,
            to: key,
            nonce: 1,
            message: vec![0u8; 16],
        };
        Operation::SendMessage(SendMessage {
            fee: Asset::cwd(fee),
            from: GATEWAY,
            to: AccountId(30),
            memo,
        })
    }

    fn decide_tx(t: &Transaction, book: &Book) -> Decision {
        decide(&policy(), &CHAIN, &t.to_bytes(), NOW_MS, book).unwrap()
    }

    #[track_caller]
    fn refused(d: Decision, expected: Rule) -> String {
        match d {
            Decision::Refuse { rule, reason, .. } if rule == expected => reason,
            other => panic!("expected a refusal by {expected}, got {other:?}"),
        }
    }

    #[track_caller]
    fn signs(d: Decision) -> (u64, bool) {
        match d {
            Decision::Sign { spend, sweep, .. } => (spend, sweep),
            other => panic!("expected to sign, got {other:?}"),
        }
    }

    #[test]
    fn a_transfer_within_every_limit_signs() {
        let t = transfer(900, 100);
        let d = decide_tx(&t, &Book::default());
        assert_eq!(d.facts().digest, t.digest(&CHAIN));
        assert_eq!(d.facts().tx_id, t.id());
        assert_eq!(d.facts().operation.as_deref(), Some("transfer"));
        assert_eq!(signs(d), (1_000, false));
    }

    #[test]
    fn another_chain_is_refused() {
        let d = decide(
            &policy(),
            &[0xcd; 32],
            &transfer(10, 1).to_bytes(),
            NOW_MS,
            &Book::default(),
        )
        .unwrap();
        assert!(refused(d, Rule::WrongChain).contains(&hex::encode([0xcd; 32])));
    }

    #[test]
    fn bytes_that_do_not_read_are_refused() {
        let mut bytes = transfer(10, 1).to_bytes();
        bytes.push(0);
        refused(
            decide(&policy(), &CHAIN, &bytes, NOW_MS, &Book::default()).unwrap(),
            Rule::Unreadable,
        );
        refused(
            decide(&policy(), &CHAIN, &[], NOW_MS, &Book::default()).unwrap(),
            Rule::Unreadable,
        );
    }

    #[test]
    fn other_operations_are_refused_by_name() {
        for op in [6u8, 22, 1] {
            let mut bytes = transfer(10, 1).to_bytes();
            bytes[11] = op;
            let d = decide(&policy(), &CHAIN, &bytes, NOW_MS, &Book::default()).unwrap();
            assert_eq!(d.facts().operation.as_deref(), Some(format!("operation {op}").as_str()));
            let reason = refused(d, Rule::OperationNotAllowed);
            assert_eq!(
                reason,
                format!("operation {op} is not allowed: only transfer and send_message")
            );
        }
    }

    #[test]
    fn two_operations_are_refused() {
        let mut t = transfer(10, 1);
        t.operations.push(message(1));
        let d = decide_tx(&t, &Book::default());
        assert_eq!(d.facts().operation.as_deref(), Some("transfer,send_message"));
        refused(d, Rule::OneOperationOnly);
    }

    #[test]
    fn an_operation_from_another_account_is_refused() {
        let mut t = transfer(10, 1);
        let Operation::Transfer(op) = &mut t.operations[0] else {
            unreachable!()
        };
        op.from = AccountId(18);
        assert!(refused(decide_tx(&t, &Book::default()), Rule::WrongAccount).contains("1.2.18"));
    }

    #[test]
    fn other_assets_are_refused() {
        let mut t = transfer(10, 1);
        let Operation::Transfer(op) = &mut t.operations[0] else {
            unreachable!()
        };
        op.amount.asset_id = AssetId(1);
        refused(decide_tx(&t, &Book::default()), Rule::NotCwd);

        let mut t = transfer(10, 1);
        let Operation::Transfer(op) = &mut t.operations[0] else {
            unreachable!()
        };
        op.fee.asset_id = AssetId(2);
        refused(decide_tx(&t, &Book::default()), Rule::NotCwd);
    }

    #[test]
    fn the_fee_ceiling_holds_at_its_boundary_and_for_sweeps() {
        signs(decide_tx(&transfer(10, 100), &Book::default()));
        refused(decide_tx(&transfer(10, 101), &Book::default()), Rule::FeeTooHigh);
        refused(decide_tx(&tx(message(101)), &Book::default()), Rule::FeeTooHigh);
        refused(
            decide_tx(&transfer_to(COLD, 10, 101), &Book::default()),
            Rule::FeeTooHigh,
        );
    }

    #[test]
    fn expiration_must_be_ahead_and_not_too_far() {
        let at = |expiration: u32| {
            let mut t = transfer(10, 1);
            t.expiration = expiration;
            decide_tx(&t, &Book::default())
        };
        refused(at(NOW_S), Rule::Expiration);
        refused(at(NOW_S - 1), Rule::Expiration);
        signs(at(NOW_S + 1));
        signs(at(NOW_S + 3_600));
        refused(at(NOW_S + 3_601), Rule::Expiration);
        refused(at(u32::MAX), Rule::Expiration);
    }

    #[test]
    fn per_transaction_counts_amount_and_fee() {
        assert_eq!(signs(decide_tx(&transfer(950, 50), &Book::default())), (1_000, false));
        refused(decide_tx(&transfer(951, 50), &Book::default()), Rule::PerTransaction);
    }

    #[test]
    fn the_daily_total_holds_at_its_boundary() {
        let book = Book {
            spent: 4_100,
            ..Book::default()
        };
        signs(decide_tx(&transfer(890, 10), &book));
        assert_eq!(*book.asked_since.borrow(), vec![NOW_MS - DAY_MS]);
        refused(decide_tx(&transfer(891, 10), &book), Rule::DailyTotal);
        // A message's fee counts too.
        let book = Book {
            spent: 5_000,
            ..Book::default()
        };
        refused(decide_tx(&tx(message(1)), &book), Rule::DailyTotal);
        signs(decide_tx(&tx(message(0)), &book));
    }

    #[test]
    fn the_destination_total_holds_at_its_boundary() {
        let book = Book {
            sent: HashMap::from([(30, 1_500)]),
            ..Book::default()
        };
        signs(decide_tx(&transfer(500, 10), &book));
        refused(decide_tx(&transfer(501, 10), &book), Rule::DestinationDailyTotal);
        // Another destination has its own total; messages send no amount.
        signs(decide_tx(&transfer_to(AccountId(31), 900, 10), &book));
        signs(decide_tx(
            &tx(message(10)),
            &Book {
                sent: HashMap::from([(30, 2_000)]),
                ..Book::default()
            },
        ));
    }

    #[test]
    fn sweeps_pass_the_limits_but_not_the_fee_or_structure_rules() {
        let full = Book {
            spent: 5_000,
            sent: HashMap::from([(20, 2_000)]),
            ..Book::default()
        };
        assert_eq!(
            signs(decide_tx(&transfer_to(COLD, 1_000_000, 100), &full)),
            (1_000_100, true)
        );
        let mut late = transfer_to(COLD, 1_000_000, 100);
        late.expiration = NOW_S;
        refused(decide_tx(&late, &full), Rule::Expiration);
        // Without a cold account, the same transfer is an ordinary one.
        let p = Policy {
            cold_account: None,
            ..policy()
        };
        let d = decide(&p, &CHAIN, &transfer_to(COLD, 1_000_000, 100).to_bytes(), NOW_MS, &full).unwrap();
        refused(d, Rule::PerTransaction);
    }

    #[test]
    fn a_repeat_gets_its_signature_before_the_clock_and_limits() {
        // Above the per-transaction limit, over the daily total and asked hours after expiring.
        let t = transfer(1_000, 100);
        let mut book = Book {
            spent: u128::MAX,
            ..Book::default()
        };
        book.signed.insert(t.digest(&CHAIN), [9u8; 65]);
        match decide(&policy(), &CHAIN, &t.to_bytes(), NOW_MS + 10 * 3_600_000, &book).unwrap() {
            Decision::Repeat { signature, facts } => {
                assert_eq!(signature, [9u8; 65]);
                assert_eq!(facts.digest, t.digest(&CHAIN));
            }
            other => panic!("expected a repeat, got {other:?}"),
        }
        // But not past the structural rules: a repeat on another chain is refused.
        let d = decide(&policy(), &[0u8; 32], &t.to_bytes(), NOW_MS, &book).unwrap();
        refused(d, Rule::WrongChain);
    }

    #[test]
    fn sums_near_the_integer_limits_do_not_overflow() {
        // Totals as large as a ledger can report refuse instead of wrapping.
        let huge = Book {
            spent: u128::MAX,
            sent: HashMap::from([(30, u128::MAX)]),
            ..Book::default()
        };
        refused(decide_tx(&transfer(1, 0), &huge), Rule::DailyTotal);
        let p = Policy {
            limits: Limits {
                max_per_transaction: u64::MAX,
                max_per_day: u64::MAX,
                max_per_destination_per_day: u64::MAX,
                max_fee: u64::MAX,
                max_expiration_secs: u64::MAX,
            },
            ..policy()
        };
        let max = cwd_codec::ops::MAX_SHARE_SUPPLY;
        let t = transfer(max, max);
        let book = Book {
            spent: u128::from(u64::MAX) - 2 * max as u128,
            ..Book::default()
        };
        assert_eq!(
            signs(decide(&p, &CHAIN, &t.to_bytes(), NOW_MS, &book).unwrap()),
            (2 * max as u64, false)
        );
        let book = Book {
            spent: u128::from(u64::MAX) - 2 * max as u128 + 1,
            ..Book::default()
        };
        refused(
            decide(&p, &CHAIN, &t.to_bytes(), NOW_MS, &book).unwrap(),
            Rule::DailyTotal,
        );
        let sent = Book {
            sent: HashMap::from([(30, u128::from(u64::MAX))]),
            ..Book::default()
        };
        refused(
            decide(&p, &CHAIN, &t.to_bytes(), NOW_MS, &sent).unwrap(),
            Rule::DestinationDailyTotal,
        );
        // Amounts past the chain's supply (up to i64::MAX) do not read at all.
        let mut bytes = transfer(10, 1).to_bytes();
        // From the end: the transaction's extensions, the transfer's, the memo flag, the asset id.
        let amount_at = bytes.len() - 4 - 8;
        bytes[amount_at..amount_at + 8].copy_from_slice(&i64::MAX.to_le_bytes());
        let d = decide(&p, &CHAIN, &bytes, NOW_MS, &Book::default()).unwrap();
        assert!(refused(d, Rule::Unreadable).contains("amount"));
        // A clock at the far end does not wrap the window.
        signs(decide(&p, &CHAIN, &transfer(10, 1).to_bytes(), 0, &Book::default()).unwrap_or_else(|_| unreachable!()));
        refused(
            decide(&p, &CHAIN, &transfer(10, 1).to_bytes(), u64::MAX, &Book::default()).unwrap(),
            Rule::Expiration,
        );
    }

    #[test]
    fn a_failing_ledger_is_an_error_not_a_decision() {
        struct Broken;
        impl Ledger for Broken {
            type Error = &'static str;
            fn signature_of(&self, _: &[u8; 32]) -> Result<Option<[u8; 65]>, &'static str> {
                Err("disk")
            }
            fn spent_since(&self, _: u64) -> Result<u128, &'static str> {
                Err("disk")
            }
            fn sent_to_since(&self, _: AccountId, _: u64) -> Result<u128, &'static str> {
                Err("disk")
            }
        }
        assert_eq!(
            decide(&policy(), &CHAIN, &transfer(10, 1).to_bytes(), NOW_MS, &Broken),
            Err("disk")
        );
    }
}

//! The other side of the game: helpers a person (or a test) uses to play a CrowdWiz
//! user: make an account with keys and CWD, send CWD or a message signed with the
//! account's own key (through the same validation as any broadcast), and read the
//! memos the account received.

use cwd_gateway::keys::{PrivateKey, PublicKey};
use cwd_gateway::memo;
use cwd_gateway::ops::{Asset, Memo, Operation, SendMessage, SignedTransaction, Transaction, Transfer};
use cwd_gateway::json::{write_i64, write_transaction};
use serde_json::{json, Value};

use crate::accounts::{Account, KeyRing};
use crate::error::{ChainError, Result};
use crate::fees::required_fee;
use crate::node::Node;
use crate::ops::ChainOp;
use crate::state::State;

/// Seconds a helper-made transaction stays valid.
pub const HELPER_EXPIRATION: u32 = 600;

/// Where an account key comes from.
#[derive(Clone, Debug)]
pub enum KeySpec {
    /// Derived from the devnet's seed; the devnet keeps the private key.
    Generate,
    /// Given; the devnet keeps it so its helpers can sign or decrypt.
    Private(PrivateKey),
    /// Only the public key: helpers then need the private key passed in.
    Public(PublicKey),
}

#[derive(Clone, Debug)]
pub struct AccountSpec {
    pub name: String,
    pub owner: KeySpec,
    pub active: KeySpec,
    pub memo: KeySpec,
    /// Initial CWD, in units (5 decimals).
    pub balance: i64,
}

impl AccountSpec {
    /// Generated keys (one per role) and a balance in units.
    pub fn new(name: &str, balance: i64) -> Self {
        AccountSpec { name: name.to_string(), owner: KeySpec::Generate, active: KeySpec::Generate, memo: KeySpec::Generate, balance }
    }
}

/// What `create_account` tells its caller, and only its caller: the private keys.
#[derive(Clone, Debug)]
pub struct CreatedAccount {
    pub name: String,
    pub id: cwd_gateway::ops::AccountId,
    pub owner_key: PublicKey,
    pub active_key: PublicKey,
    pub memo_key: PublicKey,
    pub owner_wif: Option<String>,
    pub active_wif: Option<String>,
    pub memo_wif: Option<String>,
}

impl CreatedAccount {
    pub fn id_string(&self) -> String {
        format!("1.2.{}", self.id.0)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "id": self.id_string(),
            "owner_key": self.owner_key.to_string(),
            "active_key": self.active_key.to_string(),
            "memo_key": self.memo_key.to_string(),
            "owner_wif": self.owner_wif,
            "active_wif": self.active_wif,
            "memo_wif": self.memo_wif,
        })
    }

    pub fn active_private(&self) -> Option<PrivateKey> {
        self.active_wif.as_deref().and_then(|w| PrivateKey::from_wif(w).ok())
    }

    pub fn memo_private(&self) -> Option<PrivateKey> {
        self.memo_wif.as_deref().and_then(|w| PrivateKey::from_wif(w).ok())
    }
}

/// A transaction a helper made and the node accepted into its pending pool.
#[derive(Clone, Debug)]
pub struct SubmittedTx {
    /// Transaction id, hex.
    pub id: String,
    pub fee: i64,
    pub signed: SignedTransaction,
}

impl SubmittedTx {
    pub fn to_json(&self) -> Value {
        json!({ "id": self.id, "fee": write_i64(self.fee), "transaction": write_transaction(&self.signed) })
    }
}

/// A memo an account received, decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMemo {
    /// `1.11.N` of the operation.
    pub history_id: String,
    pub block_num: u32,
    /// "transfer" or "send_message".
    pub op: &'static str,
    pub from: String,
    pub from_name: String,
    /// The CWD amount of a transfer, in units.
    pub amount: Option<i64>,
    /// The text, or why it does not decrypt.
    pub text: core::result::Result<String, String>,
}

impl ReceivedMemo {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "history_id": self.history_id,
            "block_num": self.block_num,
            "op": self.op,
            "from": self.from,
            "from_name": self.from_name,
            "amount": self.amount.map(write_i64),
        });
        let o = v.as_object_mut().expect("object");
        match &self.text {
            Ok(t) => o.insert("message".into(), json!(t)),
            Err(e) => o.insert("error".into(), json!(e)),
        };
        v
    }
}

/// Parses CWD written with up to 5 decimals ("12.5") into units.
pub fn parse_cwd(text: &str) -> Result<i64> {
    let bad = || ChainError::BadInput(format!("{text:?} is not a CWD amount (digits, up to 5 decimals)"));
    let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 5 || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let w: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let f: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<5}").parse().map_err(|_| bad())? };
    w.checked_mul(100_000).and_then(|v| v.checked_add(f)).ok_or_else(bad)
}

fn key_for(state: &mut State, spec: &KeySpec, role: &str) -> (PublicKey, Option<PrivateKey>) {
    match spec {
        KeySpec::Generate => {
            let k = state.generate_key(role);
            (k.public_key(), Some(k))
        }
        KeySpec::Private(k) => (k.public_key(), Some(k.clone())),
        KeySpec::Public(p) => (*p, None),
    }
}

fn find(state: &State, who: &str) -> Result<Account> {
    state.resolve(who).cloned().ok_or_else(|| ChainError::NotFound(format!("account {who}")))
}

impl Node {
    /// Creates an account at once (no block needed; like genesis it is not undone by a
    /// reorganisation) with `balance` new CWD; its history starts with its
    /// `account_create`.
    pub fn create_account(&self, spec: AccountSpec) -> Result<CreatedAccount> {
        let mut state = self.lock();
        let (owner, owner_priv) = key_for(&mut state, &spec.owner, "owner");
        let (active, active_priv) = key_for(&mut state, &spec.active, "active");
        let (memo_key, memo_priv) = key_for(&mut state, &spec.memo, "memo");
        let keys = KeyRing { owner: owner_priv.clone(), active: active_priv.clone(), memo: memo_priv.clone() };
        let id = state.create_account(&spec.name, owner, active, memo_key, spec.balance, keys)?;
        Ok(CreatedAccount {
            name: spec.name,
            id,
            owner_key: owner,
            active_key: active,
            memo_key,
            owner_wif: owner_priv.map(|k| k.to_wif()),
            active_wif: active_priv.map(|k| k.to_wif()),
            memo_wif: memo_priv.map(|k| k.to_wif()),
        })
    }

    /// New CWD (units) for an account.
    pub fn issue(&self, who: &str, amount: i64) -> Result<i64> {
        let mut state = self.lock();
        let account = find(&state, who)?;
        state.issue(account.id, amount)?;
        Ok(state.balance(account.id))
    }

    /// Balance in units as `get_account_balances` reports it (pending included).
    pub fn balance_of(&self, who: &str) -> Result<i64> {
        let state = self.lock();
        let a = find(&state, who)?;
        Ok(state.balance(a.id) + state.pending_net(a.id))
    }

    /// Sends `amount` units from `from` to `to`, with an optional encrypted memo, signed
    /// with `from`'s active key (the one the devnet holds, or `signer`).
    pub fn transfer(&self, from: &str, to: &str, amount: i64, memo_text: Option<&str>, signer: Option<&PrivateKey>) -> Result<SubmittedTx> {
        self.transfer_asset(from, to, Asset::cwd(amount), memo_text, signer)
    }

    /// `transfer` in any asset (fee in CWD).
    pub fn transfer_asset(&self, from: &str, to: &str, amount: Asset, memo_text: Option<&str>, signer: Option<&PrivateKey>) -> Result<SubmittedTx> {
        let mut state = self.lock();
        let (sender, receiver) = (find(&state, from)?, find(&state, to)?);
        let memo = match memo_text {
            Some(text) => Some(encrypt_memo(&mut state, &sender, &receiver, text, signer)?),
            None => None,
        };
        let op = Operation::Transfer(Transfer { fee: Asset::cwd(0), from: sender.id, to: receiver.id, amount, memo });
        submit(&mut state, &sender, op, signer)
    }

    /// Sends an encrypted message (`send_message`, op 61) from `from` to `to`.
    pub fn send_message(&self, from: &str, to: &str, text: &str, signer: Option<&PrivateKey>) -> Result<SubmittedTx> {
        let mut state = self.lock();
        let (sender, receiver) = (find(&state, from)?, find(&state, to)?);
        let memo = encrypt_memo(&mut state, &sender, &receiver, text, signer)?;
        let op = Operation::SendMessage(SendMessage { fee: Asset::cwd(0), from: sender.id, to: receiver.id, memo });
        submit(&mut state, &sender, op, signer)
    }

    /// The memos of transfers and messages `who` received (in blocks), oldest first,
    /// decrypted with its memo key (the one the devnet holds, or `memo_key`).
    pub fn received_memos(&self, who: &str, memo_key: Option<&PrivateKey>) -> Result<Vec<ReceivedMemo>> {
        let state = self.lock();
        let account = find(&state, who)?;
        let key = match memo_key {
            Some(k) => k.clone(),
            None => state.keys(account.id).and_then(|k| k.memo.clone()).ok_or_else(|| {
                ChainError::BadInput(format!("the devnet holds no memo key for {who}; pass memo_wif"))
            })?,
        };
        let mut out = Vec::new();
        for &instance in state.account_ops(account.id) {
            let Some(h) = state.history_object(instance) else { continue };
            let (kind, from, to, amount, m) = match &h.op {
                ChainOp::Codec(Operation::Transfer(t)) => ("transfer", t.from, t.to, Some(t.amount.amount), t.memo.as_ref()),
                ChainOp::Codec(Operation::SendMessage(s)) => ("send_message", s.from, s.to, None, Some(&s.memo)),
                _ => continue,
            };
            let Some(m) = m else { continue };
            if to != account.id {
                continue;
            }
            // The sender's side of the pair is whichever key is not ours.
            let theirs = if m.to == key.public_key() { m.from } else { m.to };
            out.push(ReceivedMemo {
                history_id: format!("1.11.{instance}"),
                block_num: h.block_num,
                op: kind,
                from: format!("1.2.{}", from.0),
                from_name: state.account(from).map(|a| a.name.clone()).unwrap_or_default(),
                amount,
                text: memo::decrypt(&key, &theirs, m.nonce, &m.message).map_err(|e| e.to_string()),
            });
        }
        Ok(out)
    }
}

fn encrypt_memo(state: &mut State, sender: &Account, receiver: &Account, text: &str, signer: Option<&PrivateKey>) -> Result<Memo> {
    let key = state
        .keys(sender.id)
        .and_then(|k| k.memo.clone())
        .or_else(|| signer.cloned())
        .ok_or_else(|| ChainError::BadInput(format!("the devnet holds no memo key for {}; pass a key", sender.name)))?;
    let nonce = state.next_nonce();
    let message = memo::encrypt(&key, &receiver.memo, nonce, text).map_err(|e| ChainError::BadInput(e.to_string()))?;
    Ok(Memo { from: key.public_key(), to: receiver.memo, nonce, message })
}

/// Sets the required fee, TaPoS from the head block, signs, and submits through the
/// node's own validation.
fn submit(state: &mut State, sender: &Account, mut op: Operation, signer: Option<&PrivateKey>) -> Result<SubmittedTx> {
    let fee = required_fee(&state.config.fees, &op);
    match &mut op {
        Operation::Transfer(t) => t.fee = Asset::cwd(fee),
        Operation::SendMessage(m) => m.fee = Asset::cwd(fee),
    }
    let key = match signer {
        Some(k) => k.clone(),
        None => state.keys(sender.id).and_then(|k| k.active.clone()).ok_or_else(|| {
            ChainError::BadInput(format!("the devnet holds no active key for {}; pass active_wif", sender.name))
        })?,
    };
    let head = state.head();
    let tx = Transaction {
        ref_block_num: head.num as u16,
        ref_block_prefix: crate::blocks::tapos_prefix(&head.id),
        expiration: head.time.saturating_add(HELPER_EXPIRATION),
        operations: vec![op],
    };
    let signed = tx.sign(&key, state.chain_id()).map_err(|e| ChainError::BadInput(e.to_string()))?;
    let id = state.submit(signed.clone())?;
    Ok(SubmittedTx { id: hex::encode(id), fee, signed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwd_amounts() {
        assert_eq!(parse_cwd("1").unwrap(), 100_000);
        assert_eq!(parse_cwd("12.5").unwrap(), 1_250_000);
        assert_eq!(parse_cwd("0.00001").unwrap(), 1);
        assert_eq!(parse_cwd(".5").unwrap(), 50_000);
        for bad in ["", ".", "1.000001", "-1", "1e5", "abc", "99999999999999999999"] {
            assert!(parse_cwd(bad).is_err(), "{bad}");
        }
    }
}

//! Getting a transaction signed: with the active key the host gave `configure`, or, when
//! it gave none, by the host's signer (WIT `signer`), which reads the whole transaction
//! and applies its own policy. Either way the signature is released only after it
//! recovers to a key of the gateway account's active authority and is canonical: a
//! faulty machine or a lying signer gets nothing stored or sent.

use crate::events::Alert;
use crate::gateway::Gateway;
use crate::ops::{SignedTransaction, Transaction};
use crate::ports::SignError;
use crate::signing::{is_canonical, CompactSignature};
use crate::{CodecError, SignatureProblem};

/// Why a transaction has no signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignFailure {
    /// The transaction is not valid (nothing to sign): a bug or a bad input.
    Invalid(String),
    /// A signature came back that does not check out: an alert, nothing sent.
    Faulty,
    /// The signer's policy refused it.
    Refused { rule: String, reason: String },
    /// The signer did not answer.
    Unavailable(String),
}

impl Gateway {
    /// `tx` signed and checked; `purpose` (`withdrawal`, `sweep`, `link-message`) and
    /// `subject` (its id or user) name it in the alert a failure raises here, so callers
    /// only decide what waits. Call only when configured.
    pub(crate) fn sign_transaction(
        &mut self,
        tx: Transaction,
        purpose: &str,
        subject: &str,
    ) -> Result<SignedTransaction, SignFailure> {
        let outcome = self.sign_and_check(tx);
        let alert = match &outcome {
            Err(SignFailure::Faulty) => Alert::SigningFailed {
                purpose: purpose.into(),
                subject: subject.into(),
            },
            Err(SignFailure::Refused { rule, reason }) => Alert::SignerRefused {
                purpose: purpose.into(),
                subject: subject.into(),
                rule: rule.clone(),
                reason: reason.clone(),
            },
            Err(SignFailure::Unavailable(detail)) => Alert::SignerUnavailable(detail.clone()),
            Ok(_) | Err(SignFailure::Invalid(_)) => return outcome,
        };
        self.raise(alert);
        outcome
    }

    fn sign_and_check(&mut self, tx: Transaction) -> Result<SignedTransaction, SignFailure> {
        let a = self.active.as_ref().expect("configured");
        let (chain_id, key) = (a.chain_id, a.active_key.clone());
        let signed = match key {
            Some(key) => tx.sign(&key, &chain_id).map_err(|e| match e {
                CodecError::Signature {
                    problem: SignatureProblem::SelfCheckFailed,
                } => SignFailure::Faulty,
                e => SignFailure::Invalid(e.to_string()),
            })?,
            None => {
                tx.validate().map_err(|e| SignFailure::Invalid(e.to_string()))?;
                let answer = self.ports.signer.sign(&chain_id, &tx.to_bytes()).map_err(|e| match e {
                    SignError::Refused { rule, reason } => SignFailure::Refused { rule, reason },
                    SignError::Unavailable(d) => SignFailure::Unavailable(d),
                })?;
                let signature: CompactSignature = answer.try_into().map_err(|_| SignFailure::Faulty)?;
                SignedTransaction {
                    tx,
                    signatures: vec![signature],
                }
            }
        };
        let a = self.active.as_ref().expect("configured");
        let canonical = signed.signatures.iter().all(is_canonical);
        let authorised = signed
            .signers(&chain_id)
            .is_ok_and(|keys| !keys.is_empty() && keys.iter().all(|k| a.active_authority.contains(k)));
        if canonical && authorised {
            Ok(signed)
        } else {
            Err(SignFailure::Faulty)
        }
    }
}

//! The signing capability: what the component's `signer` import reaches. A host that
//! gives the component its active key has [`NoSigner`] (the component never asks); a
//! host configured with `[signer]` gives it no active key and has [`RemoteSigner`], a
//! client of the signer process (`cwd-gateway signer`, crate `cwd-signer`), which reads
//! every transaction and applies its own policy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use cwd_signer::{SignError, SignerAddress};

pub trait Signer: Send + Sync {
    /// A 65-byte compact signature over sha256(`chain_id` ‖ `transaction`).
    fn sign(&self, chain_id: &[u8; 32], transaction: &[u8]) -> Result<[u8; 65], SignError>;
    /// Whether the signer answered its last request (`None`: this host has no signer).
    fn reachable(&self) -> Option<bool>;
    /// Asks the signer's `/health` now (`None`: this host has no signer).
    fn check(&self) -> Option<Result<serde_json::Value, SignError>>;
}

/// The component holds the active key itself.
pub struct NoSigner;

impl Signer for NoSigner {
    fn sign(&self, _: &[u8; 32], _: &[u8]) -> Result<[u8; 65], SignError> {
        Err(SignError::Unavailable(
            "this host has no signer ([signer] is not configured): give the gateway its active key".into(),
        ))
    }
    fn reachable(&self) -> Option<bool> {
        None
    }
    fn check(&self) -> Option<Result<serde_json::Value, SignError>> {
        None
    }
}

/// The signer process, over its Unix socket or loopback TCP with a token.
pub struct RemoteSigner {
    client: cwd_signer::SignerClient,
    /// The last request's outcome (a refusal is an answer: reachable).
    reachable: AtomicBool,
}

impl RemoteSigner {
    pub fn new(address: SignerAddress, timeout: Duration) -> Self {
        RemoteSigner {
            client: cwd_signer::SignerClient::new(address, timeout),
            reachable: AtomicBool::new(true),
        }
    }

    fn answered<T>(&self, r: Result<T, SignError>) -> Result<T, SignError> {
        let up = !matches!(r, Err(SignError::Unavailable(_)));
        self.reachable.store(up, Ordering::Relaxed);
        crate::metrics::METRICS.signer_answer(match &r {
            Ok(_) => "signed",
            Err(SignError::Refused { .. }) => "refused",
            Err(SignError::Unavailable(_)) => "unavailable",
        });
        r
    }
}

impl Signer for RemoteSigner {
    fn sign(&self, chain_id: &[u8; 32], transaction: &[u8]) -> Result<[u8; 65], SignError> {
        self.answered(self.client.sign(chain_id, transaction))
    }
    fn reachable(&self) -> Option<bool> {
        Some(self.reachable.load(Ordering::Relaxed))
    }
    fn check(&self) -> Option<Result<serde_json::Value, SignError>> {
        let r = self.client.health();
        self.reachable.store(r.is_ok(), Ordering::Relaxed);
        Some(r)
    }
}

//! The client gateway hosts use to ask the signer. Synchronous (wasmtime calls it from
//! a blocking thread): each call runs on a small tokio runtime the client owns, over a
//! connection of its own.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::policy::{digest_of, id_of};

/// An answer larger than this is not the signer's.
const MAX_ANSWER: usize = 1024 * 1024;

/// Where the signer listens.
#[derive(Clone)]
pub enum SignerAddress {
    Unix(PathBuf),
    /// `token` is sent as `authorization: Bearer <token>`.
    Tcp {
        addr: SocketAddr,
        token: Zeroizing<String>,
    },
}

impl fmt::Debug for SignerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl SignerAddress {
    /// For messages: never the token.
    fn describe(&self) -> String {
        match self {
            SignerAddress::Unix(path) => format!("signer at unix socket {}", path.display()),
            SignerAddress::Tcp { addr, .. } => format!("signer at tcp {addr}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignError {
    /// The signer read the request and will not sign it: asking again will not help.
    /// `rule` is the policy's rule name (`daily-total`, …), or `bad-request` when the
    /// signer could not read the request at all.
    Refused { rule: String, reason: String },
    /// No answer to act on (unreachable, timed out, store down, wrong token, not a
    /// signer): nothing is known to be signed; try again later.
    Unavailable(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Refused { rule, reason } => write!(f, "the signer refused ({rule}): {reason}"),
            SignError::Unavailable(why) => write!(f, "the signer is unavailable: {why}"),
        }
    }
}

impl std::error::Error for SignError {}

/// Asks a signer. `Send + Sync`: share one behind an `Arc`. Call it from a blocking
/// thread, not from async code (it blocks on its own runtime).
pub struct SignerClient {
    address: SignerAddress,
    timeout: Duration,
    runtime: OnceLock<Result<tokio::runtime::Runtime, String>>,
}

impl fmt::Debug for SignerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerClient")
            .field("address", &self.address)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Drop for SignerClient {
    fn drop(&mut self) {
        // Without blocking: the client may be dropped inside async code.
        if let Some(Ok(runtime)) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[derive(Deserialize)]
struct Signed {
    signature: String,
    tx_id: String,
}

#[derive(Deserialize)]
struct Problem {
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

impl SignerClient {
    /// `timeout` bounds each call whole: connecting, asking and reading the answer.
    pub fn new(address: SignerAddress, timeout: Duration) -> Self {
        SignerClient {
            address,
            timeout,
            runtime: OnceLock::new(),
        }
    }

    pub fn address(&self) -> &SignerAddress {
        &self.address
    }

    /// Asks for a signature of `transaction` (packed, unsigned) on `chain_id`. The
    /// answer is checked: it must be a canonical signature of exactly this transaction.
    pub fn sign(&self, chain_id: &[u8; 32], transaction: &[u8]) -> Result<[u8; 65], SignError> {
        let body = json!({ "chain_id": hex::encode(chain_id), "transaction": hex::encode(transaction) });
        let (status, answer) = self.call(Method::POST, "/v1/sign", Some(body.to_string()))?;
        if status != StatusCode::OK {
            return Err(self.failure(status, &answer));
        }
        let garbage = |what: &str| {
            SignError::Unavailable(format!(
                "{} answered {what}: is it a cwd-signer?",
                self.address.describe()
            ))
        };
        let signed: Signed = serde_json::from_slice(&answer).map_err(|_| garbage("200 without a signature"))?;
        let mut signature = [0u8; 65];
        hex::decode_to_slice(&signed.signature, &mut signature)
            .map_err(|_| garbage("a signature that is not 65 bytes of hex"))?;
        if signed.tx_id != hex::encode(id_of(transaction)) {
            return Err(garbage("the id of another transaction"));
        }
        cwd_codec::signing::recover(&digest_of(chain_id, transaction), &signature)
            .map_err(|e| garbage(&format!("a signature that does not check out ({e})")))?;
        Ok(signature)
    }

    /// `GET /health`: the signer's account, public key and last-24 h total.
    pub fn health(&self) -> Result<Value, SignError> {
        self.get_json("/health")
    }

    /// `GET /v1/log`: up to `limit` (1..=1000) decisions after `after`, as
    /// `{"entries":[…],"next":SEQ|null}`.
    pub fn log(&self, after: i64, limit: u32) -> Result<Value, SignError> {
        self.get_json(&format!("/v1/log?after={after}&limit={limit}"))
    }

    fn get_json(&self, path: &str) -> Result<Value, SignError> {
        let (status, answer) = self.call(Method::GET, path, None)?;
        if status != StatusCode::OK {
            return Err(self.failure(status, &answer));
        }
        serde_json::from_slice(&answer).map_err(|_| {
            SignError::Unavailable(format!(
                "{} answered {path} with something that is not JSON",
                self.address.describe()
            ))
        })
    }

    /// What a non-200 answer means for the caller.
    fn failure(&self, status: StatusCode, answer: &[u8]) -> SignError {
        let problem: Option<Problem> = serde_json::from_slice(answer).ok();
        let reason = problem.as_ref().and_then(|p| p.reason.clone());
        let at = self.address.describe();
        match status {
            StatusCode::FORBIDDEN => match problem {
                Some(Problem {
                    rule: Some(rule),
                    reason,
                }) => SignError::Refused {
                    rule,
                    reason: reason.unwrap_or_default(),
                },
                _ => SignError::Unavailable(format!("{at} answered 403 without a rule: is it a cwd-signer?")),
            },
            // The signer could not read what we sent: sending it again will not help.
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => SignError::Refused {
                rule: "bad-request".into(),
                reason: reason.unwrap_or_else(|| format!("{at} answered {status}")),
            },
            StatusCode::UNAUTHORIZED => SignError::Unavailable(format!(
                "{at} refused the bearer token: give the gateway the token in the signer's token_file"
            )),
            s if s.is_server_error() => SignError::Unavailable(format!(
                "{at} answered {s}: {}",
                reason.unwrap_or_else(|| "no reason given".into())
            )),
            s => SignError::Unavailable(format!("{at} answered {s}: is it a cwd-signer?")),
        }
    }

    fn call(&self, method: Method, path: &str, body: Option<String>) -> Result<(StatusCode, Bytes), SignError> {
        let runtime = self
            .runtime
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start the signer client's runtime: {e}"))
            })
            .as_ref()
            .map_err(|e| SignError::Unavailable(e.clone()))?;
        let at = self.address.describe();
        runtime.block_on(async {
            match tokio::time::timeout(self.timeout, self.exchange(method, path, body)).await {
                Ok(result) => result.map_err(|e| SignError::Unavailable(format!("{at}: {e}"))),
                Err(_) => Err(SignError::Unavailable(format!(
                    "{at}: no answer within {:?}",
                    self.timeout
                ))),
            }
        })
    }

    async fn exchange(&self, method: Method, path: &str, body: Option<String>) -> Result<(StatusCode, Bytes), String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "cwd-signer");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        if let SignerAddress::Tcp { token, .. } = &self.address {
            let bearer = Zeroizing::new(format!("Bearer {}", token.as_str()));
            let mut value =
                HeaderValue::from_str(&bearer).map_err(|_| "the token is not valid in a header".to_string())?;
            value.set_sensitive(true);
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        match &self.address {
            SignerAddress::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                send(stream, request).await
            }
            SignerAddress::Tcp { addr, .. } => {
                let stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                let _ = stream.set_nodelay(true);
                send(stream, request).await
            }
        }
    }
}

async fn send<S>(stream: S, request: Request<Full<Bytes>>) -> Result<(StatusCode, Bytes), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    // Ends when the answer is read and `sender` dropped, or the connection fails.
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("the request failed: {e}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?
        .to_bytes();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<SignerClient>();
    }

    #[test]
    fn messages_never_show_the_token() {
        let address = SignerAddress::Tcp {
            addr: "127.0.0.1:9".parse().unwrap(),
            token: Zeroizing::new("secret-token-123456".into()),
        };
        let client = SignerClient::new(address, Duration::from_millis(500));
        assert!(!format!("{client:?}").contains("secret-token"));
        let err = client.health().unwrap_err();
        assert!(matches!(err, SignError::Unavailable(_)), "{err}");
        assert!(!err.to_string().contains("secret-token"), "{err}");
    }

    #[test]
    fn an_absent_socket_is_unavailable() {
        let client = SignerClient::new(
            SignerAddress::Unix("/nonexistent/signer.sock".into()),
            Duration::from_secs(1),
        );
        match client.sign(&[0; 32], &[1, 2, 3]) {
            Err(SignError::Unavailable(why)) => assert!(why.contains("/nonexistent/signer.sock"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}

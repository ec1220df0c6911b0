//! A signer in a temporary directory, transactions to ask it about, and raw HTTP.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cwd_codec::keys::PrivateKey;
use cwd_codec::ops::{AccountId, Asset, Memo, Operation, SendMessage, Transaction, Transfer};
use cwd_signer::{Server, SignerAddress, SignerClient, SignerConfig};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

pub const CHAIN: [u8; 32] = [0x4b; 32];
pub const GATEWAY: u64 = 17;
pub const COLD: u64 = 20;
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// 10 CWD a transaction, 30 a day, 20 a destination a day, 0.1 fee.
pub const POLICY: &str = "[policy]
max_per_transaction = 1000000
max_per_day = 3000000
max_per_destination_per_day = 2000000
max_fee = 10000
max_expiration_secs = 3600
";

pub fn key() -> PrivateKey {
    PrivateKey::from_bytes(&[7u8; 32]).unwrap()
}

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Setup {
    /// A config with `extra` top-level lines and the `policy` section.
    pub fn new(extra: &str, policy: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        write_secret(&dir.path().join("active.wif"), &format!("{}\n", key().to_wif()), 0o600);
        let text = format!(
            "chain_id = \"{}\"\naccount = \"1.2.{GATEWAY}\"\nactive_key_file = \"active.wif\"\ncold_account = \"1.2.{COLD}\"\n{extra}\n{policy}",
            hex::encode(CHAIN)
        );
        let config = dir.path().join("signer.toml");
        fs::write(&config, text).unwrap();
        Setup { dir, config }
    }

    pub fn standard() -> Setup {
        Setup::new("", POLICY)
    }

    /// Adds TCP on a free loopback port with [`TOKEN`].
    pub fn with_tcp() -> Setup {
        let setup = Setup::new("tcp = \"127.0.0.1:0\"\ntoken_file = \"signer.token\"", POLICY);
        write_secret(&setup.dir.path().join("signer.token"), TOKEN, 0o600);
        setup
    }

    pub fn load(&self) -> SignerConfig {
        SignerConfig::load(&self.config).unwrap()
    }

    pub fn start(&self) -> (Server, SignerClient) {
        let server = Server::start(self.load()).unwrap();
        let client = SignerClient::new(
            SignerAddress::Unix(server.socket_path().to_path_buf()),
            Duration::from_secs(10),
        );
        (server, client)
    }
}

pub fn write_secret(path: &Path, text: &str, mode: u32) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

pub fn now_s() -> u32 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as u32
}

/// A transfer from the gateway; `nonce` makes otherwise equal transfers distinct.
pub fn transfer_tx(to: u64, amount: i64, fee: i64, nonce: u16) -> Transaction {
    let op = Transfer {
        fee: Asset::cwd(fee),
        from: AccountId(GATEWAY),
        to: AccountId(to),
        amount: Asset::cwd(amount),
        memo: None,
    };
    Transaction {
        ref_block_num: nonce,
        ref_block_prefix: 0xdead_beef,
        expiration: now_s() + 600,
        operations: vec![Operation::Transfer(op)],
    }
}

pub fn transfer(to: u64, amount: i64, fee: i64, nonce: u16) -> Vec<u8> {
    transfer_tx(to, amount, fee, nonce).to_bytes()
}

pub fn message(to: u64, fee: i64, nonce: u16) -> Vec<u8> {
    let public = key().public_key();
    let memo = Memo {
        from: public,
        to: public,
        nonce: 1,
        message: vec![0u8; 16],
    };
    let op = SendMessage {
        fee: Asset::cwd(fee),
        from: AccountId(GATEWAY),
        to: AccountId(to),
        memo,
    };
    Transaction {
        ref_block_num: nonce,
        ref_block_prefix: 1,
        expiration: now_s() + 600,
        operations: vec![Operation::SendMessage(op)],
    }
    .to_bytes()
}

pub enum Via<'a> {
    Unix(&'a Path),
    Tcp(std::net::SocketAddr),
}

/// One raw HTTP exchange: (status, headers, body).
pub fn raw(
    via: Via<'_>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, hyper::HeaderMap, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "signer");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::from(body))).unwrap();
        let response = match via {
            Via::Unix(socket) => {
                let io = TokioIo::new(tokio::net::UnixStream::connect(socket).await.unwrap());
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                sender.send_request(request).await.unwrap()
            }
            Via::Tcp(addr) => {
                let io = TokioIo::new(tokio::net::TcpStream::connect(addr).await.unwrap());
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                sender.send_request(request).await.unwrap()
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, headers, String::from_utf8(body.to_vec()).unwrap())
    })
}

pub fn sign_body(chain: &[u8; 32], transaction: &[u8]) -> Vec<u8> {
    serde_json::json!({ "chain_id": hex::encode(chain), "transaction": hex::encode(transaction) })
        .to_string()
        .into_bytes()
}

//! The gateway's HTTP API (`docs/http-api.md`): `POST /v1/<call>` with the API token.

use std::time::Duration;

use serde_json::Value;

/// A refusal: the gateway's error code and its sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The error object's other fields (`attempts_left`, `retry_after_ms`, `minimum_cwd`…).
    pub details: Box<Value>,
}

pub struct GatewayApi {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl GatewayApi {
    pub fn new(base_url: &str, api_token: String) -> GatewayApi {
        // The gateway is on loopback or the operator's network: never through a proxy.
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).try_proxy_from_env(false).build();
        GatewayApi { base: base_url.trim_end_matches('/').to_string(), token: api_token, agent }
    }

    pub fn call(&self, name: &str, args: Value) -> Result<Value, Refusal> {
        let request = self.agent.post(&format!("{}/v1/{name}", self.base)).set("authorization", &format!("Bearer {}", self.token));
        let response = match request.send_json(args) {
            Ok(r) => r,
            Err(ureq::Error::Status(status, r)) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                return Err(Refusal {
                    status,
                    code: v["error"]["code"].as_str().unwrap_or("unknown").to_string(),
                    message: v["error"]["message"].as_str().unwrap_or("the gateway refused").to_string(),
                    details: Box::new(v["error"].clone()),
                });
            }
            Err(ureq::Error::Transport(t)) => {
                return Err(Refusal { status: 0, code: "unreachable".into(), message: format!("the gateway could not be reached ({})", t.kind()), details: Box::new(Value::Null) })
            }
        };
        response.into_json().map_err(|_| Refusal { status: 200, code: "bad-answer".into(), message: "the gateway answered something that is not JSON".into(), details: Box::new(Value::Null) })
    }
}

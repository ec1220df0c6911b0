//! Builds the guest component (`wasm32-wasip2`, release) so the host embeds the exact
//! `.wasm` of this checkout. A separate target directory keeps the nested cargo off the
//! outer build's lock.

use std::path::PathBuf;
use std::process::Command;

/// Every `<lang>.json` in `dir` as `&[(lang, include_str!(path))]` in `$OUT_DIR/out`,
/// English first: adding a language is adding its file.
fn catalogues(dir: &std::path::Path, out: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut langs: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p.clone())))
        .collect();
    langs.sort_by(|a, b| (a.0 != "en", &a.0).cmp(&(b.0 != "en", &b.0)));
    let mut code = String::from("&[\n");
    for (lang, path) in &langs {
        println!("cargo:rerun-if-changed={}", path.display());
        code.push_str(&format!("    ({lang:?}, include_str!({:?})),\n", path.display().to_string()));
    }
    code.push(']');
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join(out), code).unwrap();
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    for watched in ["codec/src", "codec/Cargo.toml", "codec/component/src", "guest/src", "guest/Cargo.toml", "wit", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CWD_GATEWAY_GUEST_WASM");
    catalogues(&manifest.join("cabinet").join("i18n"), "cabinet_languages.rs");

    // The cache key of compiled components names the wasmtime version in use.
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    let wasmtime = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wasmtime\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CWD_GATEWAY_WASMTIME_VERSION={wasmtime}");

    // A prebuilt component can be supplied (e.g. by a packager); otherwise build it.
    if let Ok(path) = std::env::var("CWD_GATEWAY_GUEST_WASM") {
        embed(&PathBuf::from(path));
        return;
    }
    let target_dir = root.join("target").join("guest");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--locked", "-p", "cwd-gateway-guest", "--lib", "--target", "wasm32-wasip2"])
        .arg("--target-dir")
        .arg(&target_dir);
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER"] {
        cmd.env_remove(var);
    }
    let output = cmd.output().expect("running cargo to build the guest component");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
            panic!("the guest needs the wasm32-wasip2 target: run `rustup target add wasm32-wasip2`\n{stderr}");
        }
        panic!("building the guest component failed:\n{stderr}");
    }
    let wasm = target_dir.join("wasm32-wasip2").join("release").join("cwd_gateway_guest.wasm");
    assert!(wasm.exists(), "guest build produced no {}", wasm.display());
    embed(&wasm);
}

/// The component the binary embeds, and its SHA-256 (`cwd-gateway --version` prints it,
/// so a release's binary, `.wasm` and npm package can be matched).
fn embed(wasm: &std::path::Path) {
    use sha2::Digest;
    let bytes = std::fs::read(wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()));
    println!("cargo:rerun-if-changed={}", wasm.display());
    println!("cargo:rustc-env=CWD_GATEWAY_WASM={}", wasm.display());
    println!("cargo:rustc-env=CWD_GATEWAY_WASM_SHA256={}", hex::encode(sha2::Sha256::digest(&bytes)));
}

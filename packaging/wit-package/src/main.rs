//! `cwd-wit-package WIT_DIR OUT.wasm`: encodes the WIT package in `WIT_DIR` as a binary
//! WIT package (a component holding only the package's types: what `wkg wit build` and
//! `wasm-tools component wit --wasm` produce), decodes it back to check it, and prints
//! `namespace:name@version` so the release can match it against the crates' version.

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, out] = args.as_slice() else {
        bail!("usage: cwd-wit-package WIT_DIR OUT.wasm");
    };
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(dir).with_context(|| format!("parsing {dir}"))?;
    let name = resolve.packages[package].name.clone();
    if name.version.is_none() {
        bail!("{dir}: the package {name} has no version (`package ns:name@X.Y.Z;`)");
    }
    let bytes = wit_component::encode(&resolve, package).context("encoding the package")?;
    match wit_component::decode(&bytes).context("decoding the encoded package")? {
        wit_component::DecodedWasm::WitPackage(decoded, id) if decoded.packages[id].name == name => {}
        _ => bail!("the encoded package does not decode to {name}"),
    }
    std::fs::write(out, &bytes).with_context(|| format!("writing {out}"))?;
    println!("{name}");
    Ok(())
}

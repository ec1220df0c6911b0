//! Lists every `i18n/<lang>.json` for `src/i18n.rs`, English first: adding a language is
//! adding its file.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("i18n");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut langs: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
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
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("catalogues.rs"), code).unwrap();
}

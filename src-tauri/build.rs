//! Build script: checks that the UI has been built, then runs tauri-build with
//! the Tauri config at the repository root (paths in it resolve from the root).

use std::path::Path;
use std::process::exit;

/// `build.frontendDist` in ../tauri.conf.json, relative to this crate.
const UI_DIST: &str = "../ui/dist";

fn main() {
    println!("cargo:rerun-if-changed={UI_DIST}");
    if !Path::new(UI_DIST).join("index.html").is_file() {
        eprintln!(
            "error: the admin UI has not been built ({UI_DIST}/index.html is missing).\n\
             Build it first, from the repository root:\n\
             \n    npm --prefix ui ci && npm --prefix ui run build\n"
        );
        exit(1);
    }

    // Each app command gets an `allow-<name>` permission; capabilities/default.json
    // grants exactly these (a unit test checks the three lists agree).
    println!("cargo:rerun-if-changed=commands.txt");
    let listed = std::fs::read_to_string("commands.txt").expect("src-tauri/commands.txt");
    let commands: Vec<&'static str> = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| &*Box::leak(l.to_owned().into_boxed_str()))
        .collect();
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(Box::leak(commands.into_boxed_slice())));
    if let Err(error) = tauri_build::try_build(attributes) {
        eprintln!("error: tauri-build failed: {error:#}");
        exit(1);
    }
}

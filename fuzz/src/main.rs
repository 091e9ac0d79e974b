//! AFL++ harness: `crmsync-fuzz TARGET` runs one of the byte-level targets
//! that the proptest suite (`crates/protocols/tests/fuzz_parsers.rs`) runs
//! too, so a crash found here replays there once its input is saved in
//! `crates/protocols/tests/fuzz-regressions/TARGET/`.

#[path = "../../crates/protocols/tests/fuzz/targets.rs"]
mod targets;

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    let Some(target) = targets::target(&name) else {
        let names: Vec<&str> = targets::TARGETS.iter().map(|(n, _)| *n).collect();
        eprintln!("usage: crmsync-fuzz TARGET (one of {})", names.join(", "));
        std::process::exit(2);
    };
    // No abort-on-any-panic hook: a panic that crmsync's own code catches
    // (`mime::parse` turns a mail-parser debug assertion into ParserFailed) is
    // handled there, as in every crmsync build; one that escapes the target
    // still aborts, and AFL records it as a crash.
    afl::fuzz_nohook!(|data: &[u8]| target(data));
}

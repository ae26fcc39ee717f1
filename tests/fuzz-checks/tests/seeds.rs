//! Every seed and every past finding under `fuzz/seeds/<target>/` run through its target's
//! check, as a plain test: what fuzzing found once stays fixed.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::Path;

#[test]
fn every_seed_passes_its_check() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let mut ran = 0;
    for target in detour_fuzz_checks::TARGETS {
        let folder = seeds.join(target);
        let mut files: Vec<_> = std::fs::read_dir(&folder)
            .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for {target}");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            detour_fuzz_checks::run(target, &data);
            ran += 1;
        }
    }
    assert!(ran >= detour_fuzz_checks::TARGETS.len());
}

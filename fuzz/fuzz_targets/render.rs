//! Fuzz `render`: it never panics, the fast path (no re-parse) and the
//! verified path agree on every input, and any output it accepts renders
//! again to itself.
//!
//! `cargo +nightly fuzz run render fuzz/corpus/render fuzz/seeds/render -- -max_total_time=60`
#![no_main]

use helm_arc_uninstall::render::{RenderOptions, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fast = render(text, &RenderOptions::default());
    let verified = render(text, &RenderOptions { verify: true, ..RenderOptions::default() });
    match (fast, verified) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "verified and fast output differ");
            if !text.trim().is_empty() {
                assert!(!a.trim().is_empty(), "empty output for non-empty input");
            }
            let again = render(&a, &RenderOptions { verify: true, ..RenderOptions::default() })
                .unwrap_or_else(|e| panic!("accepted output does not render again: {e}"));
            assert_eq!(again, a, "render is not idempotent");
        }
        (Err(_), Err(_)) => {}
        (Ok(_), Err(e)) => panic!("output accepted without verification fails verification: {e}"),
        (Err(e), Ok(_)) => panic!("verification changes the outcome: {e}"),
    }
});

//! Tells ARMv6-M apart, whose DWT has no cycle counter (and `cortex-m` no API for it there): the
//! same test on the target name as `cortex-m`'s own build script.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(armv6m)");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv6m-") {
        println!("cargo::rustc-cfg=armv6m");
    }
}

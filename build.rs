//! Compiles the small C helpers: `long double` arithmetic, so that
//! INCRBYFLOAT and HINCRBYFLOAT round and print exactly as Redis does, and
//! printf/strtod for doubles (scores, Lua numbers).
fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    println!("cargo:rerun-if-changed=csrc/numfmt.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .file("csrc/numfmt.c")
        .opt_level(2)
        .compile("redistill_longdouble");
}

//! Compiles the small C helper that performs `long double` arithmetic, so that
//! INCRBYFLOAT and HINCRBYFLOAT round and print exactly as Redis does.
fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .opt_level(2)
        .compile("redistill_longdouble");
}

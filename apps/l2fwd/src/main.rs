//! `l2fwd`: see the library's documentation, or run `l2fwd -- -h` for the usage.

fn main() {
    std::process::exit(l2fwd::main_with_args(std::env::args()));
}

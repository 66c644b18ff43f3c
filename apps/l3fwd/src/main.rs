//! `l3fwd`: see the library's documentation, or run `l3fwd -- -h` for the usage.

fn main() {
    std::process::exit(l3fwd::main_with_args(std::env::args()));
}

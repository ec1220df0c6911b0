//! `cwd-devnet`: a simulated CrowdWiz node as a process (options: `cwd_devnet::cli`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("usage: cwd-devnet {}", cwd_devnet::cli::USAGE);
        return;
    }
    let Err(e) = cwd_devnet::cli::parse(args, None).and_then(cwd_devnet::cli::serve);
    eprintln!("cwd-devnet: {e}\nusage: cwd-devnet {}", cwd_devnet::cli::USAGE);
    std::process::exit(2);
}

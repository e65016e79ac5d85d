fn main() {
    println!("helm-arc-uninstall");
}

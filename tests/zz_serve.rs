mod support;
#[test]
fn serve() {
    let s = support::start_server();
    std::fs::write("/tmp/wt22_server_url", s.url()).unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3000));
}
